package webhook

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
)

// The payload's kind: summary with suppressed.count, storm with the held
// counts, silence_ended with what the silence held; none has an event.
func TestPayloadKinds(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	storm := &notify.Storm{Start: t0, End: t0.Add(20 * time.Second), Pages: 5, Per: 20 * time.Second, Sent: 5, Held: 35, Events: 35,
		ByRule: map[string]int{"r": 35}, Digest: notify.NewDigest(t0, 20*time.Second)}
	for range 35 {
		storm.Digest.Add(&callback.Event{GroupID: "@TGS#1", ErrorCode: 10023, Present: callback.FieldErrorCode})
	}
	tests := []struct {
		n     *notify.Notification
		kind  string
		check func(t *testing.T, m map[string]any)
	}{
		{&notify.Notification{Rule: "r", Severity: "warning", Quiet: true, Throttle: notify.Throttled{Window: time.Minute, Suppressed: 2, Since: t0, Last: t0.Add(5 * time.Second)}},
			"summary", func(t *testing.T, m map[string]any) {
				if s := m["suppressed"].(map[string]any); s["count"] != 2.0 || s["window_seconds"] != 60.0 {
					t.Errorf("suppressed = %v", s)
				}
			}},
		{&notify.Notification{Rule: "(budget)", Severity: "warning", Storm: storm}, "storm", func(t *testing.T, m map[string]any) {
			s := m["storm"].(map[string]any)
			if s["held"] != 35.0 || s["sent"] != 5.0 || s["by_rule"].(map[string]any)["r"] != 35.0 || s["by_error_code"].(map[string]any)["10023"] != 35.0 {
				t.Errorf("storm = %v", s)
			}
			if m["suppressed"].(map[string]any)["count"] != 35.0 {
				t.Errorf("suppressed = %v", m["suppressed"])
			}
		}},
		{&notify.Notification{Rule: "r", Severity: "info", Silence: &notify.SilenceEnded{ID: "s1", Author: "ana", Events: 4, Groups: 2, StillHappening: true}},
			"silence_ended", func(t *testing.T, m map[string]any) {
				if s := m["silence"].(map[string]any); s["events"] != 4.0 || s["groups"] != 2.0 || s["still_happening"] != true || s["author"] != "ana" {
					t.Errorf("silence = %v", s)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			b, err := json.Marshal(Build(tt.n))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m["kind"] != tt.kind || m["event"] != nil {
				t.Fatalf("kind %v, event %v: %s", m["kind"], m["event"], b)
			}
			tt.check(t, m)
		})
	}
}
