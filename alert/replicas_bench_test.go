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
// groups, so their claims conflict as in a storm). events/s is for all
// replicas together.
//
//	go test -run '^$' -bench SharedDecisions -benchtime 20000x ./alert/
func BenchmarkSharedDecisions(b *testing.B) {
	srv := itestutil.StartRedis(b)
	for _, bc := range []struct {
		name     string
		replicas int
		redis    bool
	}{{"memory", 1, false}, {"redis/1-replica", 1, true}, {"redis/3-replicas", 3, true}} {
		b.Run(bc.name, func(b *testing.B) {
			var ps []*Pipeline
			var regs []*prometheus.Registry
			if bc.redis {
				ps, regs = newReplicas(b, srv.Addr, config.FailClosed, bc.replicas)
			} else {
				ps = []*Pipeline{NewPipeline(PipelineOptions{Rules: compile(b, sharedRule), Store: openStore(b, b.TempDir()), Now: func() time.Time { return t0 }})}
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
