package alert

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

const sendQuery = "SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=json&OptPlatform=RESTAPI"

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: dir, Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func raw(group string, seq int, at time.Time) callback.Raw {
	return callback.Raw{Query: sendQuery, ReceivedAt: at, Body: fmt.Appendf(nil,
		`{"GroupId":%q,"Type":"Public","From_Account":"u%d","ErrorCode":10023,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"seq=%d"}}]}`,
		group, seq%3, seq)}
}

type wakes struct {
	mu sync.Mutex
	m  map[string]int
}

func (w *wakes) Wake(r string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]int{}
	}
	w.m[r]++
}

// ingest journals raws one by one and hands the pipeline each event as
// parsed, as the server does; one that does not parse goes without.
func ingest(t testing.TB, p *Pipeline, raws ...callback.Raw) {
	t.Helper()
	for _, r := range raws {
		var evs []*callback.Event
		if ev, err := r.Parse(callback.Limits{}); err == nil {
			evs = []*callback.Event{ev}
		}
		if err := p.Ingest(context.Background(), []callback.Raw{r}, evs); err != nil {
			t.Fatal(err)
		}
	}
}

func runStep(t *testing.T, p *Pipeline) {
	t.Helper()
	if _, err := p.step(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// outbox returns the notifications in the outbox, oldest first, decoded.
func outbox(t *testing.T, st *store.Store) []*notify.Notification {
	t.Helper()
	rows, err := st.Deliveries(context.Background(), store.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(rows)
	var out []*notify.Notification
	for _, r := range rows {
		// Deliveries carries no events; this test looks at the records.
		n, _ := delivery.Decode(r, callback.Limits{})
		out = append(out, n)
	}
	return out
}

const throttledRule = `rules:
  - name: r1
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 1h
    receivers: [a, b]
`

// Notifications and throttle windows are written with the events that
// caused them; a new pipeline on the same store (a restart) resumes the
// unprocessed events, does not page again inside an open window, and keeps
// counting what the window holds back.
func TestPipelineRestart(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	engine := compile(t, throttledRule)
	w := &wakes{}
	now := t0
	clock := func() time.Time { return now }
	p := NewPipeline(PipelineOptions{Rules: engine, Store: st, Out: w, Now: clock})
	if err := p.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	ingest(t, p, raw("g1", 1, t0), raw("g1", 2, t0.Add(time.Second)), raw("g2", 3, t0.Add(2*time.Second)), raw("g1", 4, t0.Add(3*time.Second)))
	runStep(t, p)
	type row struct {
		Receiver, Key string
		Suppressed    int
	}
	rowsOf := func(ns []*notify.Notification) []row {
		var out []row
		for _, n := range ns {
			out = append(out, row{n.Receiver, n.GroupKey, n.Throttle.Suppressed})
		}
		return out
	}
	want := []row{{"a", `GroupId="g1"`, 0}, {"b", `GroupId="g1"`, 0}, {"a", `GroupId="g2"`, 0}, {"b", `GroupId="g2"`, 0}}
	if d := cmp.Diff(want, rowsOf(outbox(t, st))); d != "" {
		t.Fatalf("outbox (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]int{"a": 1, "b": 1}, w.m); d != "" {
		t.Errorf("wakes (-want +got):\n%s", d)
	}
	if n, _ := st.CountUnprocessed(context.Background()); n != 0 {
		t.Errorf("%d events left unprocessed", n)
	}

	// An event journaled but not processed before the "crash".
	ingest(t, p, raw("g1", 5, t0.Add(5*time.Second)))
	// Restart: a new pipeline on the same store.
	now = t0.Add(10 * time.Second)
	p2 := NewPipeline(PipelineOptions{Rules: engine, Store: st, Out: w, Now: clock})
	if err := p2.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	runStep(t, p2)
	if got := len(outbox(t, st)); got != 4 {
		t.Fatalf("a restart paged again inside the window: %d notifications", got)
	}
	e, ok, _ := p2.states.Get(context.Background(), stateKey(engine.Rules()[0], `GroupId="g1"`))
	if win := e.State; !ok || win.Suppressed != 3 || !win.First.Equal(t0.Add(time.Second)) || !win.Last.Equal(t0.Add(5*time.Second)) {
		t.Errorf("restored window = %+v %v, want 3 suppressed", win, ok)
	}
	// After the window the next page carries all three.
	ingest(t, p2, raw("g1", 6, t0.Add(time.Hour+time.Second)))
	runStep(t, p2)
	ns := outbox(t, st)
	if len(ns) != 6 {
		t.Fatalf("%d notifications, want 6", len(ns))
	}
	last := ns[5].Throttle
	if last.Suppressed != 3 || !last.First.Equal(t0.Add(time.Second)) || !last.Last.Equal(t0.Add(5*time.Second)) || !last.Since.Equal(t0) {
		t.Errorf("page after the window carries %+v, want 3 suppressed since %v", last, t0)
	}
}

const digestRule = `rules:
  - name: storm
    match: {error_code: 10023}
    digest: 1m
    severity: info
    receivers: [a]
`

// A digest rule pages once per interval with the counts; the open digest
// survives a restart; an event past the interval closes it.
func TestPipelineDigest(t *testing.T) {
	st := openStore(t, t.TempDir())
	engine := compile(t, digestRule)
	now := t0
	clock := func() time.Time { return now }
	p := NewPipeline(PipelineOptions{Rules: engine, Store: st, Now: clock})
	groups := []string{"a", "b", "a", "c", "a", "b", "d"}
	for i, g := range groups[:4] {
		ingest(t, p, raw(g, i, t0.Add(time.Duration(i)*time.Second)))
	}
	now = t0.Add(30 * time.Second)
	runStep(t, p)
	if n := len(outbox(t, st)); n != 0 {
		t.Fatalf("digest paged before its interval: %d notifications", n)
	}
	// Restart with the digest open.
	p = NewPipeline(PipelineOptions{Rules: engine, Store: st, Now: clock})
	if err := p.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, g := range groups[4:] {
		ingest(t, p, raw(g, 4+i, t0.Add(time.Duration(40+i)*time.Second)))
	}
	runStep(t, p)
	if due := p.nextDigestDue(); due != 31*time.Second {
		t.Errorf("next digest due in %v, want 31s", due)
	}
	now = t0.Add(time.Minute + digestGrace)
	runStep(t, p)
	ns := outbox(t, st)
	if len(ns) != 1 || ns[0].Digest == nil {
		t.Fatalf("outbox = %+v, want one digest", ns)
	}
	d := ns[0].Digest
	if d.Total != 7 || !d.Start.Equal(t0) || !d.End.Equal(t0.Add(time.Minute)) || d.ByCode["10023"] != 7 || d.ByGroupType["Public"] != 7 {
		t.Errorf("digest = %+v", d)
	}
	if d := cmp.Diff([]notify.Count{{Name: "a", Count: 3}, {Name: "b", Count: 2}, {Name: "c", Count: 1}, {Name: "d", Count: 1}}, notify.Top(d.Groups, 5)); d != "" {
		t.Errorf("top groups (-want +got):\n%s", d)
	}
	if ns[0].Severity != "info" || ns[0].Rule != "storm" || ns[0].Receiver != "a" {
		t.Errorf("digest notification = %+v", ns[0])
	}
	// An event past the next interval's end closes that digest at once.
	ingest(t, p, raw("x", 10, t0.Add(2*time.Minute)), raw("y", 11, t0.Add(3*time.Minute+time.Second)))
	now = t0.Add(3*time.Minute + 2*time.Second)
	runStep(t, p)
	ns = outbox(t, st)
	if len(ns) != 2 || ns[1].Digest.Total != 1 || ns[1].Digest.Groups["x"] != 1 {
		t.Fatalf("second digest = %+v", ns[len(ns)-1].Digest)
	}
	if st, ok := p.digests["storm"]; !ok || st.Digest.Groups["y"] != 1 {
		t.Error("the event past the interval did not start the next digest")
	}
}

// What the decision rendered and counted (templates, threshold, reason)
// goes into the outbox with the notification, so a delivery after a
// restart or a reload shows the page as decided.
func TestPipelineOutboxKeepsRenderedPage(t *testing.T) {
	st := openStore(t, t.TempDir())
	engine := compile(t, `rules:
  - name: burst
    match: {error_code: 10023}
    group_by: [GroupId]
    threshold: {count: 2, within: 1m}
    throttle: 1h
    receivers: [a]
    title: "{{.Count}} in {{.GroupID}}"
    body: "first of {{.Count}}: {{.Text}}"
`)
	p := NewPipeline(PipelineOptions{Rules: engine, Store: st, Now: func() time.Time { return t0 }})
	ingest(t, p, raw("g1", 1, t0), raw("g1", 2, t0.Add(time.Second)))
	runStep(t, p)
	ns := outbox(t, st)
	if len(ns) != 1 {
		t.Fatalf("%d notifications, want 1", len(ns))
	}
	n := ns[0]
	if n.Reason != notify.ReasonFirst || n.Threshold.Count != 2 || n.Title.Text != "2 in g1" || n.Body.Slack != "first of 2: seq=2" {
		t.Errorf("decoded notification: reason %s threshold %+v title %+v body %+v", n.Reason, n.Threshold, n.Title, n.Body)
	}
}

// Threshold counts persist with the batch that counted them: a burst split
// by a restart still pages when it reaches the count.
func TestPipelineRestartKeepsThresholdCount(t *testing.T) {
	st := openStore(t, t.TempDir())
	engine := compile(t, `rules:
  - name: burst
    match: {error_code: 10023}
    group_by: [GroupId]
    threshold: {count: 3, within: 1m}
    receivers: [a]
`)
	p := NewPipeline(PipelineOptions{Rules: engine, Store: st, Now: func() time.Time { return t0 }})
	ingest(t, p, raw("g1", 1, t0), raw("g1", 2, t0.Add(time.Second)))
	runStep(t, p)
	if n := len(outbox(t, st)); n != 0 {
		t.Fatalf("%d notifications below the threshold", n)
	}
	p2 := NewPipeline(PipelineOptions{Rules: engine, Store: st, Now: func() time.Time { return t0.Add(2 * time.Second) }})
	if err := p2.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	ingest(t, p2, raw("g1", 3, t0.Add(2*time.Second)))
	runStep(t, p2)
	if ns := outbox(t, st); len(ns) != 1 || ns[0].Threshold.Count != 3 {
		t.Fatalf("after a restart the third event of the burst gave %d notifications, want 1 at count 3", len(ns))
	}
}

// A page at t0 opens a 10m window; an event at t0+5s is journaled but not
// processed when imalert dies; it restarts 15 minutes later. The event is
// inside the window that was open when it arrived: it must not page.
func TestPipelineRestoreAfterDowntime(t *testing.T) {
	st := openStore(t, t.TempDir())
	engine := compile(t, strings.Replace(throttledRule, "throttle: 1h", "throttle: 10m", 1))
	now := t0
	clock := func() time.Time { return now }
	p := NewPipeline(PipelineOptions{Rules: engine, Store: st, Now: clock})
	if err := p.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	ingest(t, p, raw("g1", 1, t0))
	runStep(t, p)
	ingest(t, p, raw("g1", 2, t0.Add(5*time.Second))) // acknowledged, then kill -9
	now = t0.Add(15 * time.Minute)
	p2 := NewPipeline(PipelineOptions{Rules: engine, Store: st, Now: clock})
	if err := p2.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	runStep(t, p2)
	ns := outbox(t, st)
	for _, n := range ns {
		t.Logf("%s %s reason=%s created=%v", n.Receiver, n.GroupKey, n.Reason, n.CreatedAt)
	}
	// One page to each receiver; the window held the replayed event back
	// and has since ended quietly: one summary each.
	if len(ns) != 4 || ns[0].Kind() != notify.KindEvent || ns[2].Kind() != notify.KindSummary || ns[2].Throttle.Suppressed != 1 {
		t.Errorf("%d notifications, want a page and a quiet summary of 1 to each receiver: the replayed event paged again inside its window", len(ns))
	}
}
