package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/callback"
)

// Quiet summaries, storm pages and silence notices render as Slack
// messages with their headline, every payload-derived value escaped.
func TestPageKinds(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	storm := &notify.Storm{Start: t0, End: t0.Add(time.Minute), Pages: 20, Per: time.Minute, Sent: 20, Held: 3, Events: 3,
		ByRule: map[string]int{"r": 3}, Digest: notify.NewDigest(t0, time.Minute)}
	storm.Digest.Add(&callback.Event{GroupID: "<!channel>", FromAccount: "<@U1>", ErrorCode: 10023, Present: callback.FieldErrorCode})
	tests := []struct {
		name string
		n    *notify.Notification
		want string
	}{
		{"summary", &notify.Notification{Rule: "r", Severity: "warning", GroupKey: `GroupId="<!here>"`, Quiet: true,
			Throttle: notify.Throttled{Window: time.Minute, Suppressed: 2, Since: t0, First: t0.Add(time.Second), Last: t0.Add(5 * time.Second)}},
			"2 more events, the last at 20:00:05 UTC; quiet since"},
		{"storm", &notify.Notification{Rule: "(budget)", Severity: "warning", Storm: storm}, "3 pages held (3 events) over the budget of 20 per 1m"},
		{"silence_ended", &notify.Notification{Rule: "r", Severity: "info", Silence: &notify.SilenceEnded{ID: "x", Author: "<@U2>", Comment: "<!everyone> spam",
			StartsAt: t0, EndsAt: t0.Add(time.Hour), Events: 4, Groups: 1, Rules: []string{"r"}}}, "held 4 events in 1 group; still happening: no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, att := Message(page.Build(tt.n))
			var body strings.Builder
			enc := json.NewEncoder(&body)
			enc.SetEscapeHTML(false) // as sent: < stays <
			if err := enc.Encode(att); err != nil {
				t.Fatal(err)
			}
			all := text + body.String()
			if !strings.Contains(all, tt.want) {
				t.Errorf("message lacks %q:\n%s", tt.want, all)
			}
			for _, live := range []string{"<!channel>", "<!here>", "<!everyone>", "<@U1>", "<@U2>"} {
				if strings.Contains(all, live) {
					t.Errorf("payload text %s is live in the message", live)
				}
			}
		})
	}
}
