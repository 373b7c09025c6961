package alert

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/alert/state/redisstate"
	"github.com/imalert/imalert/config"
	itestutil "github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/internal/yamlfile"
)

const sharedRule = `rules:
  - name: r1
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 1h
    receivers: [a]
`

// newReplicas returns n pipelines, each on its own store, sharing the
// decision state in the Redis at addr.
func newReplicas(t testing.TB, addr, policy string, n int) ([]*Pipeline, []*prometheus.Registry) {
	t.Helper()
	return newReplicasOf(t, addr, policy, n, sharedRule, func() time.Time { return t0 })
}

func newReplicasOf(t testing.TB, addr, policy string, n int, rulesSrc string, now func() time.Time) ([]*Pipeline, []*prometheus.Registry) {
	t.Helper()
	engine := compile(t, rulesSrc)
	var ps []*Pipeline
	var regs []*prometheus.Registry
	for range n {
		reg := prometheus.NewRegistry()
		c := config.State{Backend: config.StateRedis, OnRedisError: policy, Redis: config.Redis{
			Addr: addr, KeyPrefix: t.Name() + ":", Timeout: yamlfile.Duration(2 * time.Second)}}
		states, closeStates, err := redisstate.Open(context.Background(), c, redisstate.Options{Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = closeStates() })
		p := NewPipeline(PipelineOptions{Rules: engine, Store: openStore(t, t.TempDir()), States: states, Now: now})
		if err := p.Restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		ps, regs = append(ps, p), append(regs, reg)
	}
	return ps, regs
}

// stepShared runs a step as Run does, trying again while other replicas
// keep winning the claims.
func stepShared(t testing.TB, p *Pipeline) int {
	for {
		n, err := p.step(context.Background())
		if !errors.Is(err, state.ErrConflict) {
			if err != nil {
				t.Error(err)
			}
			return n
		}
	}
}

// pages returns every page in the replicas' outboxes.
func pages(t *testing.T, ps []*Pipeline) []*notify.Notification {
	t.Helper()
	var out []*notify.Notification
	for _, p := range ps {
		out = append(out, outbox(t, p.store)...)
	}
	return out
}

// Three replicas take one group's events round-robin, concurrently: one
// page opens the window, every other event is held back once, and the
// page after the window counts all of them, whichever replica sends it.
// A second group gets its own page.
func TestReplicasOnePagePerWindow(t *testing.T) {
	srv := itestutil.StartRedis(t)
	ps, regs := newReplicas(t, srv.Addr, config.FailOpen, 3)
	const perReplica = 40
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			for j := range perReplica {
				seq := j*len(ps) + i
				ingest(t, p, raw("g1", seq, t0.Add(time.Duration(seq)*time.Second)))
				stepShared(t, p)
			}
		})
	}
	wg.Wait()
	got := pages(t, ps)
	if len(got) != 1 || got[0].Throttle.Suppressed != 0 {
		t.Fatalf("inside the window: %d pages, want 1 (first: %+v)", len(got), got)
	}
	// After the window, on a replica other than the first page's.
	after := t0.Add(2 * time.Hour)
	ingest(t, ps[2], raw("g1", 1000, after), raw("g2", 1001, after))
	runStep(t, ps[2])
	got = outbox(t, ps[2].store)
	byKey := map[string]int{}
	for _, n := range got[len(got)-2:] {
		byKey[n.GroupKey] = n.Throttle.Suppressed
	}
	want := map[string]int{`GroupId="g1"`: 3*perReplica - 1, `GroupId="g2"`: 0}
	if fmt.Sprint(byKey) != fmt.Sprint(want) {
		t.Errorf("pages after the window: suppressed by key %v, want %v", byKey, want)
	}
	var conflicts float64
	for _, reg := range regs {
		conflicts += gathered(t, reg, "imalert_state_claim_conflicts_total")
	}
	t.Logf("claims decided again after a conflict: %v", conflicts)
}

func gathered(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

// Redis unreachable (paused, its data kept): fail_closed decides nothing
// and keeps the callbacks in the journal; once Redis answers again they
// are decided on the shared state. fail_open decides on the replica's memory, which remembers the
// window opened before the outage.
func TestRedisOutage(t *testing.T) {
	for _, policy := range []string{config.FailClosed, config.FailOpen} {
		t.Run(policy, func(t *testing.T) {
			srv := itestutil.StartRedis(t)
			ps, regs := newReplicas(t, srv.Addr, policy, 1)
			p, reg := ps[0], regs[0]
			ingest(t, p, raw("g1", 1, t0))
			runStep(t, p)
			srv.Pause()
			ingest(t, p, raw("g1", 2, t0.Add(time.Second)), raw("g2", 3, t0.Add(time.Second)))
			_, err := p.step(context.Background())
			unprocessed, _ := p.store.CountUnprocessed(context.Background())
			without := gathered(t, reg, "imalert_state_decisions_without_redis_total")
			switch policy {
			case config.FailClosed:
				if !errors.Is(err, redisstate.ErrUnavailable) || unprocessed != 2 || without == 0 {
					t.Fatalf("Redis down, fail_closed: step err %v, %d unprocessed, %v held; want ErrUnavailable, 2, >0", err, unprocessed, without)
				}
				if n := len(outbox(t, p.store)); n != 1 {
					t.Fatalf("fail_closed paged while Redis was down: %d pages", n)
				}
			case config.FailOpen:
				if err != nil || unprocessed != 0 || without != 2 {
					t.Fatalf("Redis down, fail_open: step err %v, %d unprocessed, %v decisions without Redis; want nil, 0, 2", err, unprocessed, without)
				}
			}
			if up := gathered(t, reg, "imalert_state_redis_up"); up != 0 {
				t.Errorf("imalert_state_redis_up = %v while down", up)
			}
			srv.Resume()
			// The store's backoff lets Redis be tried again after at most 5s.
			deadline := time.Now().Add(20 * time.Second)
			for {
				if _, err := p.step(context.Background()); err == nil {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("Redis back, step still fails: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			// g1's window held (in Redis, or in memory under fail_open),
			// g2 paged once.
			keys := map[string]int{}
			for _, n := range outbox(t, p.store) {
				keys[n.GroupKey]++
			}
			if keys[`GroupId="g1"`] != 1 || keys[`GroupId="g2"`] != 1 {
				t.Errorf("pages by key %v; want one each for g1 and g2", keys)
			}
		})
	}
}

// A batch whose commit fails releases its claim: another replica then
// finds the window never opened and pages, and the first batch, decided
// again, is held back by that window instead of paging too.
func TestFailedCommitReleasesClaim(t *testing.T) {
	ctx := context.Background()
	ps, _ := newReplicas(t, itestutil.StartRedis(t).Addr, config.FailClosed, 2)
	ingest(t, ps[0], raw("g1", 1, t0))
	evs, err := ps[0].store.Unprocessed(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := ps[0].decideBatch(ctx, evs, t0)
	if err != nil || len(b.Notifications) != 1 || len(b.claimed) != 1 {
		t.Fatalf("decideBatch: %v; %d pages, %d keys claimed; want 1 and 1", err, len(b.Notifications), len(b.claimed))
	}
	ps[0].release(ctx, b) // as when the commit fails

	ingest(t, ps[1], raw("g1", 2, t0.Add(time.Second)))
	runStep(t, ps[1])
	runStep(t, ps[0])
	if a, b := len(outbox(t, ps[0].store)), len(outbox(t, ps[1].store)); a != 0 || b != 1 {
		t.Errorf("pages: %d on the replica that released, %d on the other; want 0 and 1", a, b)
	}
}

// Threshold matches and first-seen marks are shared: three callbacks, one
// on each replica, reach a threshold of three; a group seen on one replica
// is not new on another.
func TestReplicasShareThresholdAndFirstSeen(t *testing.T) {
	const src = `rules:
  - name: burst
    match: {error_code: 10023, group_id: ["@burst"]}
    group_by: [GroupId]
    threshold: {count: 3, within: 1m}
    receivers: [a]
  - name: new-group
    match: {error_code: 10023, group_id: ["@new"]}
    group_by: [GroupId]
    first_seen: true
    receivers: [a]
`
	ps, _ := newReplicasOf(t, itestutil.StartRedis(t).Addr, config.FailClosed, 3, src, func() time.Time { return t0 })
	for i, p := range ps {
		ingest(t, p, raw("@burst", i, t0.Add(time.Duration(i)*time.Second)), raw("@new", 10+i, t0.Add(time.Duration(i)*time.Second)))
		runStep(t, p)
	}
	got := map[string][]int{}
	for i, p := range ps {
		for _, n := range outbox(t, p.store) {
			got[n.Rule] = append(got[n.Rule], i)
		}
	}
	want := map[string][]int{"burst": {2}, "new-group": {0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pages by rule (replica that sent each) = %v, want %v", got, want)
	}
}

// A digest is shared: three replicas count into the same one, and when
// it is due, exactly one of them sends it, with every callback in it.
func TestReplicasShareDigest(t *testing.T) {
	const src = `rules:
  - name: storm
    match: {error_code: 10023}
    digest: 1m
    receivers: [a]
`
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ps, _ := newReplicasOf(t, itestutil.StartRedis(t).Addr, config.FailClosed, 3, src, clock)
	const perReplica = 20
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			for j := range perReplica {
				seq := j*len(ps) + i
				ingest(t, p, raw(fmt.Sprint("g", seq%7), seq, t0.Add(time.Duration(seq)*time.Second/2)))
				stepShared(t, p)
			}
		})
	}
	wg.Wait()
	if got := pages(t, ps); len(got) != 0 {
		t.Fatalf("%d notifications before the digest is due, want 0", len(got))
	}
	mu.Lock()
	now = t0.Add(2 * time.Minute) // past the end, whichever event opened it
	mu.Unlock()
	for _, p := range ps {
		wg.Go(func() { stepShared(t, p) })
	}
	wg.Wait()
	got := pages(t, ps)
	if len(got) != 1 || got[0].Digest == nil || got[0].Digest.Total != 3*perReplica {
		t.Fatalf("after the interval: %d notifications (%+v), want one digest of %d", len(got), got, 3*perReplica)
	}
	for _, p := range ps {
		if len(p.digests) != 0 {
			t.Errorf("a replica still expects a digest to close: %v", p.digests)
		}
	}
}

// A throttle window that held events back on several replicas and ends
// quietly is summarised once, by one replica, with every event held back.
func TestReplicasShareQuietSummary(t *testing.T) {
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	const src = `rules:
  - name: r1
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 1m
    receivers: [a]
`
	ps, _ := newReplicasOf(t, itestutil.StartRedis(t).Addr, config.FailClosed, 3, src, clock)
	for i := range 9 {
		p := ps[i%3]
		ingest(t, p, raw("g1", i, t0.Add(time.Duration(i)*time.Second)))
		stepShared(t, p)
	}
	mu.Lock()
	now = t0.Add(2 * time.Minute)
	mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { stepShared(t, p) })
	}
	wg.Wait()
	var summaries []*notify.Notification
	for _, n := range pages(t, ps) {
		if n.Kind() == notify.KindSummary {
			summaries = append(summaries, n)
		}
	}
	if len(summaries) != 1 || summaries[0].Throttle.Suppressed != 8 {
		t.Fatalf("quiet summaries: %d (%+v), want one counting 8", len(summaries), summaries)
	}
}

// A page given up on (a dead letter) gives back the window it opened:
// the next callback, on another replica, pages with the count held back.
func TestReplicasReleaseDeadPageWindow(t *testing.T) {
	ctx := context.Background()
	ps, _ := newReplicas(t, itestutil.StartRedis(t).Addr, config.FailClosed, 2)
	ingest(t, ps[0], raw("g1", 1, t0))
	runStep(t, ps[0])
	ingest(t, ps[1], raw("g1", 2, t0.Add(time.Second)))
	runStep(t, ps[1])
	dead := outbox(t, ps[0].store)
	if len(dead) != 1 || len(outbox(t, ps[1].store)) != 0 {
		t.Fatalf("before: %d and %d pages, want 1 and 0", len(dead), len(outbox(t, ps[1].store)))
	}
	ps[0].ReleaseWindow(ctx, dead[0])
	ps[0].ReleaseWindow(ctx, dead[0]) // a second time: the window is no longer the page's
	ingest(t, ps[1], raw("g1", 3, t0.Add(2*time.Second)))
	runStep(t, ps[1])
	got := outbox(t, ps[1].store)
	if len(got) != 1 || got[0].Throttle.Suppressed != 1 {
		t.Fatalf("after the release: %d pages on the other replica (%+v), want 1 carrying 1 held back", len(got), got)
	}
	ingest(t, ps[0], raw("g1", 4, t0.Add(3*time.Second)))
	runStep(t, ps[0])
	if n := len(outbox(t, ps[0].store)); n != 1 {
		t.Errorf("the new window did not hold: %d pages on the first replica, want still 1", n)
	}
}
