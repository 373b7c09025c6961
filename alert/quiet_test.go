package alert

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
)

const quietRules = `rules:
  - name: r1
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 1m
    receivers: [a]
  - name: hushed
    match: {error_code: 10023, GroupId: h1}
    group_by: [GroupId]
    throttle: 1m
    quiet_summary: false
    receivers: [b]
`

// A throttle window that held events back and ends with no new event sends
// one summary at its end, also across a restart; the next event pages with
// its own count only. A window whose next event comes first sends none,
// and that event carries the count. quiet_summary: false sends none.
func TestPipelineQuietSummary(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	engine := compile(t, quietRules)
	now := t0
	clock := func() time.Time { return now }
	start := func() *Pipeline {
		p := NewPipeline(PipelineOptions{Rules: engine, Store: st, Now: clock})
		if err := p.Restore(ctx); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := start()
	ingest(t, p,
		raw("g1", 1, t0), raw("g1", 2, t0.Add(10*time.Second)), raw("g1", 3, t0.Add(20*time.Second)),
		raw("g2", 4, t0), raw("g2", 5, t0.Add(5*time.Second)),
		raw("h1", 6, t0), raw("h1", 7, t0.Add(5*time.Second)))
	now = t0.Add(30 * time.Second)
	runStep(t, p)
	kinds := func() []string {
		var out []string
		for _, n := range outbox(t, st) {
			out = append(out, n.Kind()+" "+n.Rule+" "+n.GroupKey)
		}
		return out
	}
	if got := len(outbox(t, st)); got != 4 { // g1, g2, h1 to a; h1 to b
		t.Fatalf("%d notifications before the windows end: %v", got, kinds())
	}

	// g2's next event arrives after its window, before the summary is sent.
	ingest(t, p, raw("g2", 8, t0.Add(61*time.Second)))
	// Restart: the index of due summaries comes back from the store.
	p = start()
	now = t0.Add(time.Minute + digestGrace)
	runStep(t, p)
	ns := outbox(t, st)
	if len(ns) != 7 {
		t.Fatalf("%d notifications, want the g2 page and one summary each for g1 and h1 to a: %v", len(ns), kinds())
	}
	var g1, g2 *notify.Notification
	for _, n := range ns[4:] {
		switch {
		case n.Kind() == notify.KindSummary && n.GroupKey == `GroupId="g1"`:
			g1 = n
		case n.Kind() == notify.KindEvent && n.GroupKey == `GroupId="g2"`:
			g2 = n
		case n.Kind() == notify.KindSummary && n.Receiver == "b":
			t.Errorf("quiet_summary: false sent a summary: %v", kinds())
		}
	}
	if g1 == nil || g1.Throttle.Suppressed != 2 || !g1.Throttle.Last.Equal(t0.Add(20*time.Second)) || !g1.CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("g1 summary = %+v, want 2 held, the last at +20s, sent at the window's end", g1)
	}
	if h := page.Build(g1).Headline; h != "2 more events, the last at 14:00:20 UTC; quiet since" {
		t.Errorf("summary headline %q", h)
	}
	if g2 == nil || g2.Throttle.Suppressed != 1 {
		t.Errorf("g2's page after its window = %+v, want it to carry the 1 held back", g2)
	}

	// Sent once; the next g1 event pages with its own count, not the 2.
	now = now.Add(10 * time.Second)
	runStep(t, p)
	ingest(t, p, raw("g1", 9, t0.Add(90*time.Second)))
	runStep(t, p)
	ns = outbox(t, st)
	last := ns[len(ns)-1]
	if len(ns) != 8 || last.Kind() != notify.KindEvent || last.Throttle.Suppressed != 0 || last.Reason != notify.ReasonExpired {
		t.Fatalf("after the summary: %v; last = %s suppressed %d", kinds(), last.Reason, last.Throttle.Suppressed)
	}
	if !strings.Contains(strings.Join(page.Build(last).Footer, " "), "repeats held back for 1m") {
		t.Errorf("footer of the page after the summary: %q", page.Build(last).Footer)
	}
}
