package delivery_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/slack"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
)

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
