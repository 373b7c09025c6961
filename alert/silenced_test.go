package alert

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/silence"
)

// A silence holds the events it matches before any decision: they are
// journaled and counted per silence across a restart, exactly once, and
// never page nor open a throttle window. When it is expired, the receivers
// of the rules involved get one "silence ended" page each, once, even
// across another restart.
func TestPipelineSilence(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	engine := compile(t, throttledRule)
	now := t0
	clock := func() time.Time { return now }
	start := func() (*Pipeline, *silence.Set) {
		t.Helper()
		set, err := silence.Open(ctx, silence.Options{Store: st, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		p := NewPipeline(PipelineOptions{Rules: engine, Store: st, Now: clock, Silences: set})
		if err := p.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		return p, set
	}
	p, set := start()
	s, err := set.Add(ctx, silence.Request{Matchers: json.RawMessage(`{"GroupId": "g1"}`), Duration: "1h", Author: "ana", Comment: "known: g1 spam wave"})
	if err != nil {
		t.Fatal(err)
	}
	ingest(t, p, raw("g1", 1, t0.Add(time.Second)), raw("g1", 2, t0.Add(2*time.Second)), raw("g2", 3, t0.Add(3*time.Second)), raw("g1", 4, t0.Add(4*time.Second)))
	runStep(t, p)
	keys := func() []string {
		var out []string
		for _, n := range outbox(t, st) {
			out = append(out, n.Kind()+" "+n.Receiver+" "+n.GroupKey)
		}
		return out
	}
	if d := cmp.Diff([]string{`event a GroupId="g2"`, `event b GroupId="g2"`}, keys()); d != "" {
		t.Fatalf("outbox (-want +got):\n%s", d)
	}
	if got := set.List()[0]; got.Silenced != 3 || got.Groups != 1 || got.State != silence.Active || !cmp.Equal(got.Rules, []string{"r1"}) {
		t.Errorf("silence after 3 held events = %+v", got)
	}

	// Restart with one more event journaled but not processed.
	ingest(t, p, raw("g1", 5, t0.Add(5*time.Second)))
	p, set = start()
	runStep(t, p)
	if got := set.List()[0]; got.Silenced != 4 || got.Last == nil || !got.Last.Equal(t0.Add(5*time.Second)) {
		t.Errorf("silence after restart = %+v, want 4 held, the last at +5s", got)
	}

	// Expired by hand two minutes in: one page per receiver of r1.
	now = t0.Add(2 * time.Minute)
	if _, err := set.Expire(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got := set.List()[0].State; got != silence.Expired {
		t.Errorf("state after expire = %s", got)
	}
	runStep(t, p) // not yet: the end is reported a moment after it
	if n := len(outbox(t, st)); n != 2 {
		t.Fatalf("%d notifications before the end's grace, want 2", n)
	}
	now = now.Add(time.Second)
	runStep(t, p)
	ns := outbox(t, st)
	if len(ns) != 4 {
		t.Fatalf("%d notifications, want 2 silence_ended more: %v", len(ns), keys())
	}
	want := notify.SilenceEnded{
		ID: s.ID, Author: "ana", Comment: "known: g1 spam wave", StartsAt: t0, EndsAt: t0.Add(2 * time.Minute), Expired: true,
		Events: 4, Groups: 1, Rules: []string{"r1"}, First: t0.Add(time.Second), Last: t0.Add(5 * time.Second), StillHappening: true,
	}
	for i, recv := range []string{"a", "b"} {
		n := ns[2+i]
		if n.Kind() != notify.KindSilenceEnded || n.Receiver != recv || n.Rule != "r1" {
			t.Errorf("notification %d: kind %s receiver %s rule %s", 2+i, n.Kind(), n.Receiver, n.Rule)
			continue
		}
		if d := cmp.Diff(want, *n.Silence); d != "" {
			t.Errorf("silence_ended to %s (-want +got):\n%s", recv, d)
		}
	}

	// Reported once: not again, nor after a restart.
	now = now.Add(time.Minute)
	runStep(t, p)
	p, _ = start()
	runStep(t, p)
	// The silence opened no window: the next g1 event pages as the first.
	ingest(t, p, raw("g1", 6, now))
	runStep(t, p)
	ns = outbox(t, st)
	if len(ns) != 6 {
		t.Fatalf("%d notifications, want 6: %v", len(ns), keys())
	}
	if n := ns[4]; n.Kind() != notify.KindEvent || n.GroupKey != `GroupId="g1"` || n.Reason != notify.ReasonFirst || n.Throttle.Suppressed != 0 {
		t.Errorf("first page after the silence: %s %s %s suppressed %d", n.Kind(), n.GroupKey, n.Reason, n.Throttle.Suppressed)
	}
}

// A silence that held nothing ends without a page; a pending one holds
// nothing before its start.
func TestPipelineSilenceQuietEnd(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	now := t0
	clock := func() time.Time { return now }
	set, err := silence.Open(ctx, silence.Options{Store: st, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPipeline(PipelineOptions{Rules: compile(t, throttledRule), Store: st, Now: clock, Silences: set})
	later := t0.Add(time.Minute)
	if _, err := set.Add(ctx, silence.Request{Matchers: json.RawMessage(`{"GroupId": "g1"}`), StartsAt: &later, Duration: "1m", Author: "ana", Comment: "maintenance"}); err != nil {
		t.Fatal(err)
	}
	ingest(t, p, raw("g1", 1, t0.Add(time.Second)))
	now = t0.Add(3 * time.Minute)
	runStep(t, p)
	ns := outbox(t, st)
	if len(ns) != 2 || ns[0].Kind() != notify.KindEvent {
		t.Fatalf("outbox = %v, want the g1 page to a and b and no silence_ended", ns)
	}
	if v := set.List()[0]; v.Silenced != 0 || v.State != silence.Expired {
		t.Errorf("silence = %+v", v)
	}
	rows, err := st.Silences(ctx, now)
	if err != nil || len(rows) != 0 {
		t.Errorf("the ended silence is not marked noticed: %v %v", rows, err)
	}
}
