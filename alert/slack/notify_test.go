package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
)

func notification(t *testing.T, sample string) *notify.Notification {
	t.Helper()
	ev := testutil.SampleEvent(t, sample)
	return &notify.Notification{
		ID: "n1", Receiver: "ops-slack", Rule: "group-rate-limit", RuleFile: "rules/im.yaml", RuleLine: 2,
		Severity: "warning", GroupKey: `GroupId="@TGS#2J4SZEAEL"`, Event: ev,
		CodeMeaning: callback.NewCatalogue().Meaning(ev.ErrorCode),
		Throttle:    notify.Throttled{Window: 10 * time.Minute},
	}
}

func TestNotifyWebhookAndAPI(t *testing.T) {
	srv := testutil.NewSlack(t)
	client := &http.Client{Timeout: 5 * time.Second}
	tests := []struct {
		name    string
		cfg     config.SlackReceiver
		via     string
		channel string
	}{
		{"webhook", config.SlackReceiver{WebhookURL: config.Secret(srv.WebhookURL())}, "webhook", ""},
		{"bot token", config.SlackReceiver{Token: "xoxb-test", Channel: "C0123", APIURL: srv.APIURL()}, "api", "C0123"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := New(&tt.cfg, client).Notify(context.Background(), notification(t, "send-msg-exception.doc-sample.json")); err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages()
			if len(msgs) != i+1 {
				t.Fatalf("%d messages, want %d", len(msgs), i+1)
			}
			m := msgs[i]
			if m.Via != tt.via || m.Channel != tt.channel {
				t.Errorf("via %s channel %q, want %s %q", m.Via, m.Channel, tt.via, tt.channel)
			}
			want := "[warning] 10023 group-rate-limit in @TGS#2J4SZEAEL (Public) from jared"
			if m.Text != want {
				t.Errorf("text = %q, want %q", m.Text, want)
			}
			atts, _ := m.Payload["attachments"].([]any)
			if len(atts) != 1 {
				t.Fatalf("attachments = %v", m.Payload["attachments"])
			}
			att := atts[0].(map[string]any)
			if att["color"] != "#ECB22E" {
				t.Errorf("colour = %v", att["color"])
			}
			raw, _ := json.Marshal(att["blocks"])
			for _, s := range []string{"10023 — message sending frequency over the limit", "@TGS#2J4SZEAEL (Public)", "red packet", "rules/im.yaml:2"} {
				if !strings.Contains(string(raw), s) {
					t.Errorf("blocks lack %q: %s", s, raw)
				}
			}
		})
	}
}

// Nothing a user wrote can ping or hide a link: &, < and > are escaped in
// the text and in every block.
func TestHostileTextIsInert(t *testing.T) {
	text, att := Message(pageOf(t, "send-msg-exception.hostile-text.json"))
	// Compare with the strings Slack decodes from the JSON it receives.
	raw, err := json.Marshal(att)
	if err != nil {
		t.Fatal(err)
	}
	all := text + "\n" + strings.Join(jsonStrings(t, raw), "\n")
	for _, live := range []string{"<!channel>", "<!here>", "<@U0123>", "<http://evil.example|", "</script>", "\r\nSubject", "\nSubject"} {
		if strings.Contains(all, live) {
			t.Errorf("live markup %q in Slack message: %s", live, all)
		}
	}
	for _, inert := range []string{"&lt;!channel&gt;", "&lt;!here&gt;", "&lt;@U0123&gt;", "&lt;http://evil.example|click to verify&gt;", "&amp;"} {
		if !strings.Contains(all, inert) {
			t.Errorf("escaped form %q missing: %s", inert, all)
		}
	}
}

func pageOf(t *testing.T, sample string) *pageT { return buildPage(notification(t, sample)) }

func TestClassify(t *testing.T) {
	srv := testutil.NewSlack(t)
	client := &http.Client{Timeout: 300 * time.Millisecond}
	hook := New(&config.SlackReceiver{WebhookURL: config.Secret(srv.WebhookURL())}, client)
	api := New(&config.SlackReceiver{Token: "xoxb-test", Channel: "C1", APIURL: srv.APIURL()}, client)
	tests := []struct {
		name       string
		n          *Notifier
		fault      testutil.SlackFault
		retryable  bool
		reason     string
		retryAfter time.Duration
	}{
		{"webhook 500", hook, testutil.SlackFault{Status: 500}, true, "http_500", 0},
		{"webhook 429 with Retry-After", hook, testutil.SlackFault{Status: 429, RetryAfter: "7"}, true, "http_429", 7 * time.Second},
		{"webhook 429 without Retry-After", hook, testutil.SlackFault{Status: 429}, true, "http_429", 0},
		{"webhook 404 channel_not_found", hook, testutil.SlackFault{Status: 404}, false, "http_404", 0},
		{"webhook 410 archived", hook, testutil.SlackFault{Status: 410}, false, "http_410", 0},
		{"webhook hangs", hook, testutil.SlackFault{Delay: time.Second}, true, "timeout", 0},
		{"api channel_not_found", api, testutil.SlackFault{APIError: "channel_not_found"}, false, "api_channel_not_found", 0},
		{"api invalid_auth", api, testutil.SlackFault{APIError: "invalid_auth"}, false, "api_invalid_auth", 0},
		{"api internal_error", api, testutil.SlackFault{APIError: "internal_error"}, true, "api_internal_error", 0},
		{"api 429", api, testutil.SlackFault{Status: 429, RetryAfter: "3"}, true, "http_429", 3 * time.Second},
		{"api 503", api, testutil.SlackFault{Status: 503}, true, "http_503", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Fail(tt.fault)
			err := tt.n.Notify(context.Background(), notification(t, "send-msg-exception.doc-sample.json"))
			var de *notify.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *notify.DeliveryError", err)
			}
			if de.Retryable != tt.retryable || de.Reason != tt.reason || de.RetryAfter != tt.retryAfter {
				t.Errorf("got retryable=%v reason=%s after=%v, want %v %s %v", de.Retryable, de.Reason, de.RetryAfter, tt.retryable, tt.reason, tt.retryAfter)
			}
			if strings.Contains(err.Error(), "XXXXXXXX") || strings.Contains(err.Error(), "xoxb-test") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestTransportErrorHidesWebhookURL(t *testing.T) {
	// Nothing listens on port 1 of loopback: the dial fails.
	n := New(&config.SlackReceiver{WebhookURL: "http://127.0.0.1:1/services/T0/B0/very-secret"}, &http.Client{Timeout: time.Second})
	err := n.Notify(context.Background(), notification(t, "send-msg-exception.doc-sample.json"))
	var de *notify.DeliveryError
	if !errors.As(err, &de) || !de.Retryable || de.Reason != "transport" {
		t.Fatalf("err = %v, want a retryable transport failure", err)
	}
	if strings.Contains(err.Error(), "very-secret") {
		t.Errorf("error leaks the webhook URL: %v", err)
	}
}

// jsonStrings returns every string value in a JSON document.
func jsonStrings(t *testing.T, raw []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return testutil.JSONStrings(v)
}
