package alert

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	itestutil "github.com/imalert/imalert/internal/testutil"
)

// BenchmarkSharedDecisions measures the pipeline's step (parse, rules,
// decisions, outbox commit in SQLite) over journaled callbacks of 50
// groups, with the decision state in memory, and in Redis for one and for
// three replicas working at once (each on its own store, all on the same
// groups, so their claims conflict as in a storm); "+digest" adds a rule
// that counts every callback into one digest. events/s is for all
// replicas together.
//
//	go test -run '^$' -bench SharedDecisions -benchtime 20000x ./alert/
func BenchmarkSharedDecisions(b *testing.B) {
	srv := itestutil.StartRedis(b)
	const withDigest = sharedRule + `  - name: storm
    match: {error_code: 10023}
    digest: 10m
    receivers: [a]
`
	for _, bc := range []struct {
		name     string
		replicas int
		redis    bool
		rules    string
	}{
		{"memory", 1, false, sharedRule}, {"redis/1-replica", 1, true, sharedRule}, {"redis/3-replicas", 3, true, sharedRule},
		{"memory+digest", 1, false, withDigest}, {"redis/3-replicas+digest", 3, true, withDigest},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var ps []*Pipeline
			var regs []*prometheus.Registry
			now := func() time.Time { return t0 }
			if bc.redis {
				ps, regs = newReplicasOf(b, srv.Addr, config.FailClosed, bc.replicas, bc.rules, now)
			} else {
				ps = []*Pipeline{NewPipeline(PipelineOptions{Rules: compile(b, bc.rules), Store: openStore(b, b.TempDir()), Now: now})}
			}
			for i, p := range ps {
				var raws []callback.Raw
				for j := i; j < b.N; j += len(ps) {
					raws = append(raws, raw(fmt.Sprint("g", j%50), j, t0.Add(time.Duration(j)*time.Millisecond)))
					if len(raws) == 256 {
						ingestAll(b, p, raws)
						raws = raws[:0]
					}
				}
				ingestAll(b, p, raws)
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, p := range ps {
				wg.Go(func() {
					for stepShared(b, p) > 0 {
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
			conflicts := 0.0
			for _, reg := range regs {
				conflicts += gathered(b, reg, "imalert_state_claim_conflicts_total")
			}
			b.ReportMetric(conflicts, "conflicts")
		})
	}
}

func ingestAll(b *testing.B, p *Pipeline, raws []callback.Raw) {
	if len(raws) == 0 {
		return
	}
	if err := p.Ingest(context.Background(), raws, nil); err != nil {
		b.Fatal(err)
	}
}
