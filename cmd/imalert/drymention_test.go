package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/slack"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/reload"
)

// The dry run's Slack text is the text the live send posts: the
// receiver's configured mentions lead it.
func TestDryRunSlackTextIsTheLiveText(t *testing.T) {
	var posted struct{ Text string }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &posted)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	cfg := config.Default()
	recv := config.Receiver{Name: "ops-slack", Type: "slack", Slack: &config.SlackReceiver{
		WebhookURL: config.Secret(srv.URL), Mention: []string{"<!subteam^S0123ABC>", "<@U0123ABCD>"},
	}}
	cfg.Receivers = append(cfg.Receivers, recv)
	ev := &callback.Event{Command: callback.CommandSendMsgException, GroupID: "@TGS#1", FromAccount: "<!channel>", ErrorCode: 10023,
		ReceivedAt: time.Date(2026, 11, 25, 14, 3, 7, 0, time.UTC)}
	ev.Present |= callback.FieldErrorCode
	n := &notify.Notification{Receiver: "ops-slack", Rule: "r", Severity: "warning", GroupKey: `GroupId="@TGS#1"`, Event: ev}

	if err := slack.New(recv.Slack, srv.Client()).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	(&dry{setup: &reload.Set{Config: cfg}, w: &out}).rendered(n)
	var dryText string
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "text: "); ok {
			dryText = v
		}
	}
	if !strings.HasPrefix(posted.Text, "<!subteam^S0123ABC> <@U0123ABCD> ") {
		t.Fatalf("live text %q does not lead with the mentions", posted.Text)
	}
	if dryText != posted.Text {
		t.Errorf("dry run text %q, live text %q", dryText, posted.Text)
	}
}
