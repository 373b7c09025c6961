package console

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
)

func TestNotifyGolden(t *testing.T) {
	tests := []struct {
		sample, golden string
		throttle       notify.Throttled
	}{
		{"send-msg-exception.doc-sample.json", "testdata/doc-sample.golden", notify.Throttled{Window: 10 * time.Minute}},
		{"send-msg-exception.hostile-text.json", "testdata/hostile-text.golden", notify.Throttled{
			Window: 10 * time.Minute, Suppressed: 143,
			Since: time.Date(2026, 11, 25, 13, 53, 0, 0, time.UTC), First: time.Date(2026, 11, 25, 13, 53, 1, 0, time.UTC), Last: time.Date(2026, 11, 25, 14, 2, 59, 0, time.UTC),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			body, err := os.ReadFile("../../callback/testdata/samples/" + tt.sample)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := callback.Parse(callback.Query{AppID: 1400000000, Command: callback.CommandSendMsgException, OptPlatform: "RESTAPI"}, body, callback.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			n := &notify.Notification{ID: "x", Receiver: "console", Rule: "group-rate-limit", RuleFile: "rules/im.yaml", RuleLine: 2,
				Severity: "warning", GroupKey: `GroupId="@TGS#2J4SZEAEL"`, Event: ev, CodeMeaning: callback.NewCatalogue().Meaning(ev.ErrorCode), Throttle: tt.throttle}
			var out bytes.Buffer
			if err := New(&out).Notify(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			if os.Getenv("UPDATE_GOLDEN") == "1" {
				if err := os.WriteFile(tt.golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tt.golden)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Errorf("console page differs from %s:\ngot:\n%s\nwant:\n%s", tt.golden, out.String(), want)
			}
		})
	}
}
