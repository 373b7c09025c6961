package trace_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/trace"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules/rulestest"
	"github.com/imalert/imalert/store"
)

const sendQuery = "SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=json&OptPlatform=RESTAPI"

const traceRules = `rules:
  - name: rate
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 10m
    receivers: [a]
  - name: burst
    match: {error_code: 10023}
    group_by: [GroupId]
    threshold: {count: 3, within: 1m}
    throttle: 1h
    receivers: [a]
`

func raw(group, from string, code int, at time.Time) callback.Raw {
	return callback.Raw{Query: sendQuery, ReceivedAt: at, Body: fmt.Appendf(nil,
		`{"GroupId":%q,"Type":"Public","From_Account":%q,"ErrorCode":%d,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]}`,
		group, from, code)}
}

// process journals raws and runs them through a pipeline over st.
func process(t *testing.T, st *store.Store, src string, raws ...callback.Raw) *alert.Pipeline {
	t.Helper()
	p := alert.NewPipeline(alert.PipelineOptions{Rules: rulestest.Compile(t, src, "a"), Store: st})
	for _, r := range raws {
		if err := p.Ingest(context.Background(), []callback.Raw{r}, nil); err != nil {
			t.Fatal(err)
		}
	}
	p.Stop()
	p.Run(context.Background())
	return p
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

type got struct {
	Rule, Decision string
	Reason         notify.Reason
	Left           float64
	Count          int
}

// The trace says for each event which rules matched, what each decided
// and why (time left in the window, n of N), and which pages it made;
// an event that matched no rule is listed with no rules.
func TestTraceDecisions(t *testing.T) {
	st := openStore(t)
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	p := process(t, st, traceRules,
		raw("@g1", "jared", 10023, t0),
		raw("@g1", "jared", 10023, t0.Add(10*time.Second)),
		raw("@g1", "amy", 10023, t0.Add(20*time.Second)),
		raw("@g2", "amy", 80001, t0.Add(30*time.Second)), // no rule
	)
	r := trace.NewReader(st, p.Rules, callback.Limits{})
	pg, err := r.List(context.Background(), trace.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Events) != 4 {
		t.Fatalf("got %d events, want 4", len(pg.Events))
	}
	var rows [][]got
	for _, e := range pg.Events {
		var g []got
		for _, m := range e.Matches {
			g = append(g, got{m.Rule, m.Decision, m.Reason, m.TimeLeftSeconds, m.Count})
		}
		rows = append(rows, g)
	}
	want := [][]got{
		nil, // 80001: no rule
		{{"burst", "paged", notify.ReasonFirst, 3600, 3}, {"rate", "held", notify.ReasonThrottled, 580, 0}},
		{{"burst", "held", notify.ReasonBelowThreshold, 0, 2}, {"rate", "held", notify.ReasonThrottled, 590, 0}},
		{{"burst", "held", notify.ReasonBelowThreshold, 0, 1}, {"rate", "paged", notify.ReasonFirst, 600, 0}},
	}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("decisions, newest first (-want +got):\n%s", d)
	}
	newest3 := pg.Events[1]
	if d := newest3.Matches[1].Detail; !strings.Contains(d, "9m40s left of the 10m window") {
		t.Errorf("throttled detail = %q, want the time left of the window", d)
	}
	if d := pg.Events[2].Matches[0].Detail; !strings.Contains(d, "2 of 3 within 1m") {
		t.Errorf("threshold detail = %q, want n of N", d)
	}
	if newest3.RequestID == "" || newest3.RequestID != callback.RequestID(t0.Add(20*time.Second)) {
		t.Errorf("request id = %q, want the id of its receive time", newest3.RequestID)
	}
	first := pg.Events[3]
	if len(first.Notifications) != 1 || first.Notifications[0].Receiver != "a" || first.Notifications[0].State != "pending" {
		t.Fatalf("notifications of the first event = %+v, want one pending page to a", first.Notifications)
	}
	if pageText := first.Notifications[0].Page; !strings.Contains(pageText, "10023") || !strings.Contains(pageText, "@g1") {
		t.Errorf("page = %q, want the rendered page", pageText)
	}
	if first.Matches[0].File != "rules.yaml" || first.Matches[0].Line == 0 {
		t.Errorf("rule source = %s:%d, want rules.yaml and a line", first.Matches[0].File, first.Matches[0].Line)
	}
}

// Filters select by group, sender, error code and rule; Get reads one.
func TestTraceFilters(t *testing.T) {
	st := openStore(t)
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	p := process(t, st, traceRules,
		raw("@g1", "jared", 10023, t0),
		raw("@g2", "amy", 10023, t0.Add(time.Second)),
		raw("@g2", "amy", 80001, t0.Add(2*time.Second)),
	)
	r := trace.NewReader(st, p.Rules, callback.Limits{})
	code := int64(80001)
	tests := []struct {
		name string
		f    trace.Filter
		want []int64
	}{
		{"all", trace.Filter{}, []int64{3, 2, 1}},
		{"group", trace.Filter{GroupID: "@g2"}, []int64{3, 2}},
		{"sender", trace.Filter{FromAccount: "jared"}, []int64{1}},
		{"code", trace.Filter{ErrorCode: &code}, []int64{3}},
		{"rule", trace.Filter{Rule: "rate"}, []int64{2, 1}},
		{"since", trace.Filter{Since: t0.Add(time.Second)}, []int64{3, 2}},
		{"paged", trace.Filter{Limit: 2}, []int64{3, 2}},
		{"next", trace.Filter{Before: 2}, []int64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pg, err := r.List(context.Background(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, e := range pg.Events {
				ids = append(ids, e.ID)
			}
			if d := cmp.Diff(tt.want, ids); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
		})
	}
	ev, err := r.Get(context.Background(), 2)
	if err != nil || ev.GroupID != "@g2" || len(ev.Matches) != 2 {
		t.Errorf("Get(2) = %+v, %v; want the event of @g2 with two rules", ev, err)
	}
	if _, err := r.Get(context.Background(), 99); err != trace.ErrNotFound {
		t.Errorf("Get(99) error = %v, want ErrNotFound", err)
	}
}

// Every delivery attempt is in the trace, with its result.
func TestTraceAttempts(t *testing.T) {
	st := openStore(t)
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	p := process(t, st, traceRules, raw("@g1", "jared", 10023, t0))
	ctx := context.Background()
	rows, err := st.Deliveries(ctx, store.Filter{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("deliveries = %v, %v", rows, err)
	}
	seq := rows[0].Seq
	if err := st.Attempt(ctx, seq, t0.Add(time.Second), "slack: http 500"); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx, store.Outcome{Seq: seq, State: store.Sent, At: t0.Add(3 * time.Second), Attempted: true}); err != nil {
		t.Fatal(err)
	}
	ev, err := trace.NewReader(st, p.Rules, callback.Limits{}).Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, a := range ev.Notifications[0].AttemptLog {
		log = append(log, a.At.Format("15:04:05")+" "+a.Result+" "+a.Error)
	}
	want := []string{"14:00:01 failed slack: http 500", "14:00:03 delivered "}
	if d := cmp.Diff(want, log); d != "" {
		t.Errorf("attempt log (-want +got):\n%s", d)
	}
	hs, err := st.ReceiversHealth(ctx)
	if err != nil || len(hs) != 1 || !hs[0].LastSuccess.Equal(t0.Add(3*time.Second)) || !hs[0].FailingSince.IsZero() {
		t.Errorf("health = %+v, %v; want a last success and not failing", hs, err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := trace.Record{GroupKey: `GroupId="@g"`, Notify: true, Reason: notify.ReasonFirst,
		Until: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Window: time.Minute, Suppressed: 3, Count: 2, Threshold: 5, Within: time.Second, By: "silence 7"}
	got, err := trace.Unmarshal(trace.Marshal(r), string(r.Reason))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(r, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	for n := range len(trace.Marshal(r)) {
		if _, err := trace.Unmarshal(trace.Marshal(r)[:n], "first"); err == nil {
			t.Errorf("Unmarshal of %d bytes: no error", n)
		}
	}
}

// What held an event besides a window or a threshold (a silence, a budget)
// is named in the detail.
func TestDescribeBy(t *testing.T) {
	got := trace.Describe(trace.Record{Reason: "silenced", By: "silence 42"}, time.Now())
	if got != "held: silenced by silence 42" {
		t.Errorf("Describe = %q, want the silence named", got)
	}
}
