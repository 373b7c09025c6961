package alert

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/rules"
)

// A batch's tally counts events by command and outcomes by rule and
// reason, and keeps for the log only the outcomes with a line to write.
func TestTally(t *testing.T) {
	a, b := &rules.Rule{Name: "a"}, &rules.Rule{Name: "b"}
	sent := Outcome{Rule: a, Decision: Decision{Notify: true, Reason: notify.ReasonFirst}}
	throttled := Outcome{Rule: a, Decision: Decision{Reason: notify.ReasonThrottled}}
	below := Outcome{Rule: b, Decision: Decision{Reason: notify.ReasonBelowThreshold}}
	broken := Outcome{Rule: b, Key: "k", Decision: Decision{Notify: true, Reason: notify.ReasonFirst}, RenderErr: errors.New("bad")}
	for _, tc := range []struct {
		name   string
		debug  bool
		logged []string // rule and key of each outcome kept for the log
	}{
		{"info", false, []string{"b/k"}},
		{"debug", true, []string{"a/", "a/", "b/", "b/k"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := tally{debug: tc.debug}
			for _, c := range []string{"send", "send", "other"} {
				tl.event(c)
			}
			for _, o := range []Outcome{sent, throttled, throttled, below, broken} {
				tl.outcome(o)
			}
			if d := cmp.Diff(map[string]int{"send": 2, "other": 1}, tl.events); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			want := map[decisionKey]int{
				{"a", notify.ReasonFirst}: 1, {"a", notify.ReasonThrottled}: 2,
				{"b", notify.ReasonBelowThreshold}: 1, {"b", notify.ReasonFirst}: 1,
			}
			if d := cmp.Diff(want, tl.decided, cmp.AllowUnexported(decisionKey{})); d != "" {
				t.Errorf("decided (-want +got):\n%s", d)
			}
			var logged []string
			for _, o := range tl.logged {
				logged = append(logged, o.Rule.Name+"/"+o.Key)
			}
			if d := cmp.Diff(tc.logged, logged); d != "" {
				t.Errorf("logged (-want +got):\n%s", d)
			}
		})
	}
}
