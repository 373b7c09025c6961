package alert

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// keys holds decision state as the pipeline's store does, and decides
// with the production decide: what it returns is what the pipeline would
// store.
type keys map[string]state.Entry

func (k keys) decide(now time.Time, r *rules.Rule, key string) Decision {
	if stateless(r) {
		return Decision{Notify: true, Reason: notify.ReasonNoWindow, Until: now}
	}
	d, e := decide(k[stateKey(r, key)], now, r)
	k[stateKey(r, key)] = e
	return d
}

func TestThrottleDecide(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 13, 52, 40, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const win = 10 * time.Minute
	r := rule(t, "throttle: 10m")
	k := keys{}
	steps := []struct {
		at         time.Duration
		key        string
		notify     bool
		reason     notify.Reason
		suppressed int              // Decision.Suppressed when held back
		carried    notify.Throttled // when notifying
	}{
		{0, "a", true, notify.ReasonFirst, 0, notify.Throttled{}},
		{time.Second, "a", false, notify.ReasonThrottled, 1, notify.Throttled{}},
		{time.Second, "b", true, notify.ReasonFirst, 0, notify.Throttled{}},
		{2 * time.Minute, "a", false, notify.ReasonThrottled, 2, notify.Throttled{}},
		{9*time.Minute + 59*time.Second, "a", false, notify.ReasonThrottled, 3, notify.Throttled{}},
		{win, "a", true, notify.ReasonExpired, 0, notify.Throttled{Window: win, Suppressed: 3, Since: t0, First: at(time.Second), Last: at(9*time.Minute + 59*time.Second)}},
		{win + time.Second, "a", false, notify.ReasonThrottled, 1, notify.Throttled{}},
		// A quiet key's next page, one window after its window, carries
		// nothing; after two windows it has forgotten the key.
		{2 * win, "b", true, notify.ReasonExpired, 0, notify.Throttled{}},
		{5 * win, "b", true, notify.ReasonFirst, 0, notify.Throttled{}},
		// A long lull: the count of the window before is still carried.
		{10 * win, "a", true, notify.ReasonExpired, 0, notify.Throttled{Window: win, Suppressed: 1, Since: at(win), First: at(win + time.Second), Last: at(win + time.Second)}},
	}
	for i, s := range steps {
		d := k.decide(at(s.at), r, s.key)
		if d.Notify != s.notify || d.Reason != s.reason {
			t.Fatalf("step %d: got notify=%v reason=%s, want %v %s", i, d.Notify, d.Reason, s.notify, s.reason)
		}
		if !d.Notify && d.Suppressed != s.suppressed {
			t.Errorf("step %d: suppressed = %d, want %d", i, d.Suppressed, s.suppressed)
		}
		if d.Notify && d.Carried != s.carried {
			t.Errorf("step %d: carried = %+v, want %+v", i, d.Carried, s.carried)
		}
	}
	if d := k.decide(t0, rule(t, "throttle: 0s"), "c"); !d.Notify || d.Reason != notify.ReasonNoWindow {
		t.Errorf("no window: %+v", d)
	}
}

// decide leaves the entry it was given as it was: a batch that fails to
// commit changes nothing.
func TestDecideIsPure(t *testing.T) {
	r := rule(t, "threshold: {count: 3, within: 1m}\nthrottle: 10m")
	old := state.Entry{State: state.KeyState{Hits: []time.Time{t0, t0.Add(time.Second), t0.Add(2 * time.Second)}}, KeepUntil: t0.Add(time.Hour)}
	before := state.Marshal(old.State)
	d1, e1 := decide(old, t0.Add(3*time.Second), r)
	d2, e2 := decide(old, t0.Add(3*time.Second), r)
	if string(state.Marshal(old.State)) != string(before) {
		t.Error("decide changed the entry it was given")
	}
	if d1 != d2 || string(state.Marshal(e1.State)) != string(state.Marshal(e2.State)) || !e1.KeepUntil.Equal(e2.KeepUntil) {
		t.Errorf("same input, different output: %+v %+v / %+v %+v", d1, e1, d2, e2)
	}
}

// The keep time is how long the state still matters on the decision
// clock, and an entry past it is as good as none.
func TestDecideKeepUntil(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		steps []time.Duration // events before the one checked
		at    time.Duration
		keep  time.Duration
	}{
		{"quiet window: one window past its end", "throttle: 10m", nil, 0, 20 * time.Minute},
		{"held back: plus the carry", "throttle: 10m", []time.Duration{0}, time.Second, 20*time.Minute + Carry},
		{"threshold: its window", "threshold: {count: 5, within: 1h}\nthrottle: 0s", nil, 0, time.Hour},
		{"first seen: a year", "first_seen: true", nil, 0, firstSeenKeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rule(t, tt.spec)
			var e state.Entry
			for _, at := range tt.steps {
				_, e = decide(e, t0.Add(at), r)
			}
			_, e = decide(e, t0.Add(tt.at), r)
			if want := t0.Add(tt.keep); !e.KeepUntil.Equal(want) {
				t.Errorf("keep until %v, want %v", e.KeepUntil, want)
			}
			// Past the keep time, the key starts afresh.
			if d, _ := decide(e, e.KeepUntil, r); d.Reason == notify.ReasonThrottled || d.Reason == notify.ReasonExpired || d.Reason == notify.ReasonSeenBefore {
				t.Errorf("an entry past its keep time still applied: %s", d.Reason)
			}
		})
	}
}

// Threshold counts and first-seen marks survive a store and restore
// through the encoding, so a restart neither forgets a burst in progress
// nor pages a seen key again.
func TestDecideStateSurvivesEncoding(t *testing.T) {
	burst := rule(t, "threshold: {count: 3, within: 1m}\nthrottle: 10m")
	seen := rule(t, "first_seen: true")
	a := keys{}
	a.decide(t0, burst, "k")
	a.decide(t0.Add(10*time.Second), burst, "k")
	a.decide(t0, seen, "k")
	b := keys{}
	for key, e := range a {
		st, err := state.Unmarshal(state.Marshal(e.State))
		if err != nil {
			t.Fatal(err)
		}
		b[key] = state.Entry{State: st, KeepUntil: e.KeepUntil}
	}
	if d := b.decide(t0.Add(20*time.Second), burst, "k"); !d.Notify || d.Count != 3 {
		t.Errorf("third event of the burst after a restore: %+v, want a page at count 3", d)
	}
	if d := b.decide(t0.Add(time.Hour), seen, "k"); d.Notify || d.Reason != notify.ReasonSeenBefore {
		t.Errorf("first-seen key after a restore: %+v, want seen_before", d)
	}
}

// failCommits makes every commit that writes decision state fail, until
// the returned function is called.
func failCommits(t *testing.T, dir string) (restore func()) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec(`CREATE TRIGGER fail_windows BEFORE INSERT ON windows BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, err := db.Exec(`DROP TRIGGER fail_windows`); err != nil {
			t.Fatal(err)
		}
	}
}

// A batch whose commit fails leaves the decision state as it found it,
// however old: the batch is decided again on the events' own times, and
// pages exactly as it would have.
func TestPipelineFailedCommitKeepsState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	engine := compile(t, "rules:\n  - name: r\n    group_by: [GroupId]\n    throttle: 1m\n    quiet_summary: false\n    receivers: [a]\n")
	p := NewPipeline(PipelineOptions{Rules: engine, Store: st, Now: func() time.Time { return t0.Add(24 * time.Hour) }})
	ingest(t, p, raw("g1", 1, t0))
	runStep(t, p)
	key := stateKey(engine.Rules()[0], `GroupId="g1"`)
	before, _, _ := p.states.Get(ctx, key)

	ingest(t, p, raw("g1", 2, t0.Add(time.Second)), raw("g2", 3, t0.Add(time.Second)))
	allow := failCommits(t, dir)
	if _, err := p.step(ctx); err == nil {
		t.Fatal("the commit did not fail")
	}
	after, _, _ := p.states.Get(ctx, key)
	if after.State.Suppressed != before.State.Suppressed {
		t.Errorf("a failed commit changed the state: suppressed %d, was %d", after.State.Suppressed, before.State.Suppressed)
	}
	if _, ok, _ := p.states.Get(ctx, stateKey(engine.Rules()[0], `GroupId="g2"`)); ok {
		t.Error("a failed commit left a new key's state")
	}
	allow()
	runStep(t, p)
	ns := outbox(t, st)
	if len(ns) != 2 || ns[1].GroupKey != `GroupId="g2"` {
		t.Fatalf("outbox after the retried batch: %d notifications, want g1 then g2", len(ns))
	}
	if after, _, _ := p.states.Get(ctx, key); after.State.Suppressed != 1 {
		t.Errorf("after the retried batch: suppressed %d, want 1", after.State.Suppressed)
	}
}

// Threshold counts and first-seen marks share the throttle's bound.
func TestPipelineMaxKeys(t *testing.T) {
	for _, spec := range []string{"first_seen: true", "threshold: {count: 5, within: 1h}", "throttle: 1h"} {
		t.Run(spec, func(t *testing.T) {
			m := NewMetrics(nil)
			p := NewPipeline(PipelineOptions{Rules: compile(t, "rules:\n  - name: r\n    receivers: [a]\n    group_by: [From_Account]\n    "+spec+"\n"), MaxKeys: 100, Metrics: m})
			for i := range 250 {
				evaluate(p, exceptionEvent(t, t0, fmt.Sprint("user", i)))
			}
			if n := p.states.(*state.Memory).Len(); n > 100 {
				t.Errorf("holds %d keys, want at most 100", n)
			}
			if got := counterValue(m.throttleEvictions); got != 150 {
				t.Errorf("evictions = %v, want 150", got)
			}
		})
	}
}

func counterValue(c prometheus.Counter) float64 { return promtest.ToFloat64(c) }
