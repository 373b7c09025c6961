package delivery_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/slack"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/store"
)

// The tests in this file go through a real integration to a loopback
// server, in real time; waitFor's timeout only bounds a failing test.

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func payloadText(v any) string { return strings.Join(testutil.JSONStrings(v), "\n") }

// With a bot token and repeats: thread, a repeat of an open incident
// replies in the first message's thread; with repeats: update, it updates
// that message.
func TestSlackIncidents(t *testing.T) {
	for _, mode := range []string{config.RepeatsThread, config.RepeatsUpdate} {
		t.Run(mode, func(t *testing.T) {
			fake := testutil.NewSlack(t)
			n := slack.New(&config.SlackReceiver{Token: "xoxb-test", Channel: "C0123", APIURL: fake.APIURL(), Repeats: mode}, &http.Client{Timeout: time.Second})
			r := newRig(t, strings.Replace(perGroupRule, "throttle: 1h", "throttle: 0s", 1),
				delivery.Destination{Name: "slack", Notifier: n, Timeout: time.Second, IncidentTTL: time.Hour})
			r.start()
			r.ingest(10023, "g1", 1)
			first := fake.WaitMessages(1, 5*time.Second)
			if len(first) != 1 || first[0].Path != "/api/chat.postMessage" || first[0].Payload["thread_ts"] != nil {
				t.Fatalf("first message = %+v", first)
			}
			var inc store.Incident
			waitFor(t, "the incident", 5*time.Second, func() bool {
				i, ok, err := r.st.Incident(context.Background(), "slack", "r", `GroupId="g1"`)
				inc = i
				return err == nil && ok
			})
			channel, ts, _ := strings.Cut(inc.Ref, " ")
			r.ingest(10023, "g1", 2)
			msgs := fake.WaitMessages(2, 5*time.Second)
			if len(msgs) != 2 {
				t.Fatalf("%d messages", len(msgs))
			}
			second := msgs[1]
			switch mode {
			case config.RepeatsThread:
				if second.Path != "/api/chat.postMessage" || second.Payload["thread_ts"] != ts || second.Channel != channel {
					t.Errorf("repeat = %s %v, want a reply in thread %s", second.Path, second.Payload["thread_ts"], ts)
				}
			case config.RepeatsUpdate:
				if second.Path != "/api/chat.update" || second.Payload["ts"] != ts || second.Channel != channel {
					t.Errorf("repeat = %s %v, want an update of %s", second.Path, second.Payload["ts"], ts)
				}
			}
			if !strings.Contains(second.Text, "g1") {
				t.Errorf("repeat text %q", second.Text)
			}
			// Another key opens its own incident.
			r.ingest(10023, "g2", 3)
			third := fake.WaitMessages(3, 5*time.Second)
			if len(third) != 3 || third[2].Path != "/api/chat.postMessage" || third[2].Payload["thread_ts"] != nil {
				t.Errorf("new incident = %+v", third[len(third)-1])
			}
		})
	}
}

// A Slack receiver with mention, by webhook and by bot token: the
// configured mention leads the message on every path.
func TestSlackMentionEveryPath(t *testing.T) {
	for _, bot := range []bool{false, true} {
		fake := testutil.NewSlack(t)
		cfg := &config.SlackReceiver{Mention: []string{"<!here>"}, Repeats: config.RepeatsNew}
		if bot {
			cfg.Token, cfg.Channel, cfg.APIURL = "xoxb-test", "C0123", fake.APIURL()
		} else {
			cfg.WebhookURL = config.Secret(fake.WebhookURL())
		}
		n := slack.New(cfg, &http.Client{Timeout: time.Second})
		r := newRig(t, perGroupRule, delivery.Destination{Name: "slack", Notifier: n, Timeout: time.Second})
		r.ingest(10023, "g1", 1)
		r.start()
		msgs := fake.WaitMessages(1, 5*time.Second)
		if len(msgs) != 1 {
			t.Fatalf("bot=%v: no message", bot)
		}
		text := payloadText(msgs[0].Payload)
		if !strings.Contains(text, "<!here>") {
			t.Errorf("bot=%v: configured mention missing from the message:\n%s", bot, text)
		}
	}
}
