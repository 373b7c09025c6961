package slack

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const mention = "<!subteam^S0123ABC>"

// hostile is the page for the hostile sample, whose sender, message text
// and custom data carry mentions, links, HTML and header-injection
// attempts. With more, the query's OptPlatform and the operator carry them
// too.
func hostile(t *testing.T, more bool) *notify.Notification {
	t.Helper()
	ev := testutil.SampleEvent(t, "send-msg-exception.hostile-text.json")
	at := ev.ReceivedAt
	if more {
		ev.OptPlatform = "<!everyone>"
		ev.OperatorAccount = "<@U0123|admin> & <#C0123>"
	}
	return &notify.Notification{
		ID: "0123456789abcdef", Receiver: "ops-slack", Rule: "group-rate-limit", RuleFile: "rules/im.yaml", RuleLine: 2,
		Severity: callback.SeverityWarning, GroupKey: `From_Account="<!channel>"`, Event: ev,
		CodeMeaning: "message sending frequency over the limit",
		Throttle: notify.Throttled{Window: 10 * time.Minute, Suppressed: 3, Since: at.Add(-10 * time.Minute),
			First: at.Add(-9 * time.Minute), Last: at.Add(-time.Minute)},
		CreatedAt: at,
	}
}

// live finds anything Slack would turn into a mention, channel link or
// hidden link: a <…> sequence.
var live = regexp.MustCompile(`<[^<>]*>`)

// strings collects every string of a decoded JSON payload, with its path.
func collect(v any, path string, out map[string]string) {
	switch x := v.(type) {
	case string:
		out[path] = x
	case []any:
		for i, e := range x {
			collect(e, path+"["+strconv.Itoa(i)+"]", out)
		}
	case map[string]any:
		for k, e := range x {
			collect(e, path+"."+k, out)
		}
	}
}

// The hostile sample renders inert in every string of the payload, through
// the webhook and through chat.postMessage; only the configured mention is
// live. The webhook payload is checked in as a golden file.
func TestHostileGolden(t *testing.T) {
	srv := testutil.NewSlack(t)
	n := hostile(t, false)
	hook := New(&config.SlackReceiver{WebhookURL: config.Secret(srv.WebhookURL()), Mention: []string{mention}}, &http.Client{Timeout: 5 * time.Second})
	api := New(&config.SlackReceiver{Token: "xoxb-test", Channel: "C123", APIURL: srv.APIURL(), Mention: []string{mention}}, &http.Client{Timeout: 5 * time.Second})
	for _, nf := range []*Notifier{hook, api, hook, api} {
		if err := nf.Notify(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		n = hostile(t, true) // the golden file holds the sample as it is
	}
	msgs := srv.Messages()
	if len(msgs) != 4 {
		t.Fatalf("%d messages", len(msgs))
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep &lt; readable in the golden file
	enc.SetIndent("", "  ")
	if err := enc.Encode(msgs[0].Payload); err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(buf.String())
	golden := filepath.Join("testdata", "hostile-text.slack.golden.json")
	if *update {
		if err := os.WriteFile(golden, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.TrimSpace(string(want)), got); diff != "" {
		t.Errorf("webhook payload differs from %s (-want +got; -update rewrites):\n%s", golden, diff)
	}
	for _, m := range msgs {
		all := map[string]string{}
		collect(m.Payload, m.Via, all)
		if len(all) < 10 {
			t.Fatalf("%s: only %d strings in the payload", m.Via, len(all))
		}
		for path, s := range all {
			for _, seq := range live.FindAllString(s, -1) {
				if !(seq == mention && strings.HasSuffix(path, ".text") && strings.HasPrefix(s, mention+" ")) {
					t.Errorf("%s: %s holds the live sequence %q", m.Via, path, seq)
				}
			}
			for _, raw := range []string{"<!here>", "<!channel>", "<!everyone>", "<@U0123", "<#C0123>", "<http://evil.example|click to verify>", "<script>", "<b>", "\r", "Subject: injected\n"} {
				if strings.Contains(s, raw) {
					t.Errorf("%s: %s contains %q", m.Via, path, raw)
				}
			}
		}
		if m.Payload["parse"] != "none" {
			t.Errorf("%s: parse = %v, want none", m.Via, m.Payload["parse"])
		}
		// Every hostile piece is still there for the reader, escaped.
		text := strings.Join(values(all), "\n")
		for _, inert := range []string{"&lt;!here&gt; urgent", "&lt;http://evil.example|click to verify&gt;", "&amp; &lt;@U0123&gt;", "&lt;!channel&gt;", "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"} {
			if !strings.Contains(text, inert) {
				t.Errorf("%s: payload lacks the escaped %q", m.Via, inert)
			}
		}
	}
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Whatever the payload's size, every text stays within Slack's limits and
// valid UTF-8, and escaping never grows a text past them.
func TestSlackLimits(t *testing.T) {
	n := hostile(t, true)
	big := strings.Repeat("<&>日本😀", 4000) // 28 000 runes, escaping triples the brackets
	n.Event.MsgBody[0].Content.Text = big
	n.Event.ErrorInfo = big
	n.Event.GroupID = big
	n.Event.FromAccount = big
	text, att := Message(page.Build(n))
	if !utf8.ValidString(text) || utf8.RuneCountInString(text) > 3000 {
		t.Errorf("text: %d runes", utf8.RuneCountInString(text))
	}
	raw, err := json.Marshal(att)
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string]any
	_ = json.Unmarshal(raw, &decoded)
	blocks, _ := decoded["blocks"].([]any)
	if len(blocks) == 0 || len(blocks) > maxBlocks {
		t.Fatalf("%d blocks", len(blocks))
	}
	all := map[string]string{}
	collect(decoded, "attachment", all)
	for path, s := range all {
		if !utf8.ValidString(s) {
			t.Errorf("%s: invalid UTF-8", path)
		}
		if c := utf8.RuneCountInString(s); c > maxSectionText {
			t.Errorf("%s: %d runes, more than %d", path, c, maxSectionText)
		}
		if strings.Contains(path, ".fields[") && utf8.RuneCountInString(s) > maxFieldText {
			t.Errorf("%s: field over %d", path, maxFieldText)
		}
		if len(live.FindAllString(s, -1)) > 0 {
			t.Errorf("%s: live sequence after truncation", path)
		}
	}
}

func TestMentionsOnlyFromConfig(t *testing.T) {
	if Mentions(nil) != "" || Mentions([]string{"<!here>", "<@U1>"}) != "<!here> <@U1> " {
		t.Error("Mentions renders wrongly")
	}
}
