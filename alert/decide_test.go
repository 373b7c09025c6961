package alert

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/rules/rulestest"
)

func compile(t testing.TB, src string) *rules.Engine {
	t.Helper()
	return rulestest.Compile(t, src, "console", "ops-slack", "a", "b", "fb")
}

func rule(t *testing.T, spec string) *rules.Rule {
	t.Helper()
	return compile(t, "rules:\n  - name: r\n    receivers: [console]\n    "+strings.ReplaceAll(spec, "\n", "\n    ")+"\n").Rules()[0]
}

var t0 = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

type step struct {
	at     time.Duration
	key    string
	notify bool
	reason notify.Reason
	count  int // Decision.Count, for thresholds
}

func runSteps(t *testing.T, k keys, r *rules.Rule, steps []step) {
	t.Helper()
	for i, s := range steps {
		d := k.decide(t0.Add(s.at), r, s.key)
		if d.Notify != s.notify || d.Reason != s.reason || (s.count > 0 && d.Count != s.count) {
			t.Errorf("step %d (%v, key %q): got notify=%v reason=%s count=%d, want %v %s %d", i, s.at, s.key, d.Notify, d.Reason, d.Count, s.notify, s.reason, s.count)
		}
	}
}

func TestDecideThreshold(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name  string
		spec  string
		steps []step
	}{
		{"three within a minute", "threshold: {count: 3, within: 1m}\nthrottle: 0s", []step{
			{0, "a", false, notify.ReasonBelowThreshold, 1},
			{10 * s, "a", false, notify.ReasonBelowThreshold, 2},
			{10 * s, "b", false, notify.ReasonBelowThreshold, 1}, // keys count apart
			{20 * s, "a", true, notify.ReasonNoWindow, 3},
			{30 * s, "a", true, notify.ReasonNoWindow, 3}, // still 3 within the last minute
			{95 * s, "a", false, notify.ReasonBelowThreshold, 1},
		}},
		{"too sparse never fires", "threshold: {count: 3, within: 1m}\nthrottle: 0s", []step{
			{0, "a", false, notify.ReasonBelowThreshold, 1},
			{40 * s, "a", false, notify.ReasonBelowThreshold, 2},
			{80 * s, "a", false, notify.ReasonBelowThreshold, 2},
			{120 * s, "a", false, notify.ReasonBelowThreshold, 2},
		}},
		{"throttle after the threshold", "threshold: {count: 2, within: 1m}\nthrottle: 10m", []step{
			{0, "a", false, notify.ReasonBelowThreshold, 1},
			{s, "a", true, notify.ReasonFirst, 2},
			{2 * s, "a", false, notify.ReasonThrottled, 2},        // counts stop at threshold.count
			{601 * s, "a", false, notify.ReasonBelowThreshold, 1}, // window over, but the burst too
			{602 * s, "a", true, notify.ReasonExpired, 2},
		}},
		{"count of one is every event", "threshold: {count: 1, within: 1m}\nthrottle: 0s", []step{
			{0, "a", true, notify.ReasonNoWindow, 1}, {time.Hour, "a", true, notify.ReasonNoWindow, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, keys{}, rule(t, tt.spec), tt.steps)
		})
	}
}

func TestDecideFirstSeen(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		steps []step
	}{
		{"once per key, ever", "first_seen: true", []step{
			{0, "a", true, notify.ReasonFirstSeen, 0},
			{time.Minute, "a", false, notify.ReasonSeenBefore, 0},
			{time.Minute, "b", true, notify.ReasonFirstSeen, 0},
			{30 * 24 * time.Hour, "a", false, notify.ReasonSeenBefore, 0},
		}},
		{"after a threshold", "first_seen: true\nthreshold: {count: 2, within: 1m}", []step{
			{0, "a", false, notify.ReasonBelowThreshold, 1},
			{time.Second, "a", true, notify.ReasonFirstSeen, 2},
			{2 * time.Second, "a", false, notify.ReasonSeenBefore, 2},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, keys{}, rule(t, tt.spec), tt.steps)
		})
	}
}

// Under an exponential throttle a steady storm pages at 0, 10, 30, 70 and
// 110 minutes (windows of 10, 20, 40, then 40 capped); after a lull the
// window starts again at 10 minutes. Every page carries what was held back.
func TestDecideExponential(t *testing.T) {
	r := rule(t, "throttle: {window: 10m, backoff: exponential, max: 40m}")
	k := keys{}
	type page struct {
		at, window, carriedWindow time.Duration
		suppressed                int
	}
	var pages []page
	decide := func(at time.Duration) {
		d := k.decide(t0.Add(at), r, "k")
		if d.Notify {
			pages = append(pages, page{at, d.Window, d.Carried.Window, d.Carried.Suppressed})
		} else if d.Reason != notify.ReasonThrottled {
			t.Fatalf("at %v: reason %s", at, d.Reason)
		}
	}
	for m := range 120 { // one event a minute for two hours
		decide(time.Duration(m) * time.Minute)
	}
	decide(5 * time.Hour) // after a lull
	want := []page{
		{0, 10 * time.Minute, 0, 0},
		{10 * time.Minute, 20 * time.Minute, 10 * time.Minute, 9},
		{30 * time.Minute, 40 * time.Minute, 20 * time.Minute, 19},
		{70 * time.Minute, 40 * time.Minute, 40 * time.Minute, 39},
		{110 * time.Minute, 40 * time.Minute, 40 * time.Minute, 39},
		{5 * time.Hour, 10 * time.Minute, 40 * time.Minute, 9},
	}
	if diff := cmp.Diff(want, pages, cmp.AllowUnexported(page{})); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
}

// A window that held nothing back does not grow the next one.
func TestDecideExponentialQuiet(t *testing.T) {
	r := rule(t, "throttle: {window: 10m, backoff: exponential}")
	k := keys{}
	for _, at := range []time.Duration{0, 15 * time.Minute, 30 * time.Minute} {
		if d := k.decide(t0.Add(at), r, "k"); !d.Notify || d.Window != 10*time.Minute {
			t.Errorf("at %v: %+v, want a page opening a 10m window", at, d)
		}
	}
}

// Decision state is keyed by the rule's name and decision settings: a new
// rule set that keeps them keeps the state; one that changes them starts
// afresh.
func TestDecideStateSurvivesReload(t *testing.T) {
	before := rule(t, "throttle: 10m\ngroup_by: [GroupId]\nmatch: {error_code: 10023}")
	k := keys{}
	if d := k.decide(t0, before, "g"); !d.Notify {
		t.Fatal("first event did not page")
	}
	tests := []struct {
		name   string
		spec   string
		notify bool
	}{
		{"same rule", "throttle: 10m\ngroup_by: [GroupId]\nmatch: {error_code: 10023}", false},
		{"other conditions, receivers and templates", "throttle: 10m\ngroup_by: [group_id]\nmatch: {error_code: [10023, 10024]}\ntitle: x", false},
		{"other throttle", "throttle: 5m\ngroup_by: [GroupId]\nmatch: {error_code: 10023}", true},
		{"other grouping", "throttle: 10m\ngroup_by: [From_Account]\nmatch: {error_code: 10023}", true},
		{"threshold added", "throttle: 10m\ngroup_by: [GroupId]\nthreshold: {count: 1, within: 1m}", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := rule(t, tt.spec)
			if d := k.decide(t0.Add(time.Minute), after, "g"); d.Notify != tt.notify {
				t.Errorf("after reload: notify = %v (%s), want %v", d.Notify, d.Reason, tt.notify)
			}
		})
	}
}

// evaluate runs events through p's decisions, as the pipeline does for
// each journal entry, and returns the notifications they produce.
func evaluate(p *Pipeline, evs ...*callback.Event) []*notify.Notification {
	var got []*notify.Notification
	var buf []*rules.Rule
	for _, ev := range evs {
		var outs []Outcome
		outs, buf = p.Evaluate(ev, buf[:0])
		for _, o := range outs {
			got = append(got, o.Notifications...)
		}
	}
	return got
}

func exceptionEvent(t *testing.T, at time.Time, from string) *callback.Event {
	t.Helper()
	ev, err := callback.Parse(callback.Query{AppID: 1400000000, Command: callback.CommandSendMsgException},
		[]byte(`{"GroupId": "@TGS#1", "Type": "Public", "From_Account": "`+from+`", "ErrorCode": 80001, "ErrorInfo": "<!channel>"}`), callback.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ev.ReceivedAt = at
	return ev
}

// The rule through the pipeline: three bot events within a minute
// page once on Slack with the rendered template; the burst that follows is
// held and counted, and carried into the next page.
func TestPipelineProcess(t *testing.T) {
	e := compile(t, `rules:
  - name: content-filter-burst
    match:
      callback_command: Group.CallbackSendMsgException
      error_code: ["80001-80004"]
      from_account: {regex: "^(bot|test)_"}
      not:
        group_type: [AVChatRoom]
    threshold: {count: 3, within: 1m}
    group_by: [From_Account]
    throttle: 30m
    severity: critical
    receivers: [ops-slack]
    title: "{{.Count}} blocked from {{.From}} ({{meaning .ErrorCode}}): {{.ErrorInfo}}"
    body: "{{if .Suppressed}}{{.Suppressed}} more since {{clock .Since}}{{end}}"
`)
	p := NewPipeline(PipelineOptions{Rules: e})
	var evs []*callback.Event
	for _, at := range []time.Duration{0, 10 * time.Second, 20 * time.Second, 30 * time.Second, 40 * time.Second, 31 * time.Minute, 31*time.Minute + time.Second, 31*time.Minute + 2*time.Second} {
		evs = append(evs, exceptionEvent(t, t0.Add(at), "bot_1"))
	}
	evs = append(evs, exceptionEvent(t, t0, "jared")) // no match
	got := evaluate(p, evs...)
	if len(got) != 2 {
		t.Fatalf("%d notifications, want 2", len(got))
	}
	n := got[0]
	if n.Receiver != "ops-slack" || n.Severity != "critical" || n.Reason != notify.ReasonFirst || n.Threshold.Count != 3 || n.GroupKey != `From_Account="bot_1"` {
		t.Errorf("first page: %+v", n)
	}
	wantTitle := notify.Rendered{
		Text:  "3 blocked from bot_1 (text contains sensitive content; not delivered): <!channel>",
		Slack: "3 blocked from bot_1 (text contains sensitive content; not delivered): &lt;!channel&gt;",
		HTML:  "3 blocked from bot_1 (text contains sensitive content; not delivered): &lt;!channel&gt;",
	}
	if diff := cmp.Diff(wantTitle, n.Title); diff != "" {
		t.Errorf("title (-want +got):\n%s", diff)
	}
	second := got[1]
	if second.Throttle.Suppressed != 2 || !second.Throttle.First.Equal(t0.Add(30*time.Second)) || !second.Throttle.Last.Equal(t0.Add(40*time.Second)) {
		t.Errorf("second page carries %+v, want the 2 events held at 0:30 and 0:40", second.Throttle)
	}
	if !strings.HasPrefix(second.Body.Text, "2 more since 14:00:20") {
		t.Errorf("second body = %q", second.Body.Text)
	}
}

// A template that fails on an event still pages, with the standard layout.
func TestPipelineRenderFailureStillPages(t *testing.T) {
	e := compile(t, "rules:\n  - name: r\n    receivers: [console]\n    throttle: 0s\n    title: '{{if eq .From \"a\"}}{{index .MsgTypes 3}}{{end}}'\n")
	p := NewPipeline(PipelineOptions{Rules: e})
	outs, _ := p.Evaluate(exceptionEvent(t, t0, "a"), nil)
	if len(outs) != 1 || outs[0].RenderErr == nil || len(outs[0].Notifications) != 1 || outs[0].Notifications[0].Title != (notify.Rendered{}) {
		t.Fatalf("outcomes %+v", outs)
	}
}

// The cost of one decision on a key whose window is open (the common case
// in a storm), and on a rule with a threshold: read the state, decide,
// store the state.
func BenchmarkDecideRule(b *testing.B) {
	for _, tt := range []struct{ name, spec string }{
		{"throttle", "throttle: 10m"},
		{"threshold+throttle", "threshold: {count: 10, within: 1m}\n    throttle: 10m"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			f, err := rules.ParseFile("rules.yaml", []byte("rules:\n  - name: r\n    receivers: [console]\n    "+tt.spec+"\n"))
			if err != nil {
				b.Fatal(err)
			}
			e, err := rules.Compile([]*rules.File{f}, rules.Options{Receivers: map[string]bool{"console": true}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			r, m := e.Rules()[0], state.NewMemory(state.MemoryOptions{})
			key := stateKey(r, `GroupId="@TGS#2J4SZEAEL"`)
			now := t0
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(time.Millisecond)
				old, _, _ := m.Get(ctx, key)
				_, next := decide(old, now, r)
				_ = m.Put(ctx, key, next)
			}
		})
	}
}

// The daemon and the dry run decide alike: a window that held nothing
// back ends, and the next page is window_expired, whichever path decides
// and however long the wall clock took.
func TestDaemonAndDryRunDecideAlike(t *testing.T) {
	const src = "rules:\n  - name: r\n    group_by: [GroupId]\n    throttle: 1s\n    receivers: [a]\n"
	st := openStore(t, t.TempDir())
	daemon := NewPipeline(PipelineOptions{Rules: compile(t, src), Store: st, Now: func() time.Time { return t0.Add(time.Hour) }})
	ingest(t, daemon, raw("g", 1, t0))
	runStep(t, daemon)
	ingest(t, daemon, raw("g", 2, t0.Add(1200*time.Millisecond)))
	runStep(t, daemon)
	ns := outbox(t, st)
	if len(ns) != 2 {
		t.Fatalf("daemon: %d pages, want 2", len(ns))
	}
	dry := NewPipeline(PipelineOptions{Rules: compile(t, src)})
	var reasons []notify.Reason
	for _, at := range []time.Duration{0, 1200 * time.Millisecond} {
		ev := exceptionEvent(t, t0.Add(at), "u")
		outs, _ := dry.Evaluate(ev, nil)
		reasons = append(reasons, outs[0].Decision.Reason)
	}
	if got := []notify.Reason{ns[0].Reason, ns[1].Reason}; !slices.Equal(got, reasons) || got[1] != notify.ReasonExpired {
		t.Errorf("daemon decides %v, imalert test predicts %v; want first then window_expired", got, reasons)
	}
}
