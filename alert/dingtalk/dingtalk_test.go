package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
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

const (
	hookPath = "/robot/send"
	token    = "access_token=1f6a0000ding0token0000c7e2"
	okAnswer = `{"errcode":0,"errmsg":"ok"}`
	secret   = "SECexample0123456789abcdef"
)

func notification(ev *callback.Event) *notify.Notification {
	at := ev.ReceivedAt
	return &notify.Notification{
		ID: "0123456789abcdef", Receiver: "ops-dingtalk", Rule: "group-rate-limit", RuleFile: "rules/im.yaml", RuleLine: 2,
		Severity: callback.SeverityCritical, GroupKey: `GroupId="` + ev.GroupID + `"`, Event: ev,
		CodeMeaning: "message sending frequency over the limit",
		Throttle: notify.Throttled{Window: 10 * time.Minute, Suppressed: 3, Since: at.Add(-10 * time.Minute),
			First: at.Add(-9 * time.Minute), Last: at.Add(-time.Minute)},
		CreatedAt: at,
	}
}

func newNotifier(bot *testutil.ChatBot, cfg config.DingTalkReceiver) *Notifier {
	cfg.WebhookURL = config.Secret(bot.URL)
	return New(&cfg, &http.Client{Timeout: 5 * time.Second})
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.GoldenJSON(t, name, got, *update)
}

func decode(t *testing.T, body []byte) Message {
	t.Helper()
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Signature vectors, computed independently of this code:
//
//	printf '%s\n%s' 1764079387124 SECexample0123456789abcdef |
//	  openssl dgst -sha256 -hmac SECexample0123456789abcdef -binary | base64
//
// and the same with python3 (hmac.new(secret, ts+"\n"+secret, sha256),
// base64, urllib.parse.quote_plus for the query).
func TestSignVectors(t *testing.T) {
	tests := []struct{ ts, sign, query string }{
		{"1764079387123", "zwsWLwvh0ufWKfY1uesYDWK1E1B8zkhiyHKMA8WmArI=", "zwsWLwvh0ufWKfY1uesYDWK1E1B8zkhiyHKMA8WmArI%3D"},
		{"1764079387124", "wzEcAPy+G//g39QPEoNoCDSInC+7D0b61njnh1pxm7U=", "wzEcAPy%2BG%2F%2Fg39QPEoNoCDSInC%2B7D0b61njnh1pxm7U%3D"},
	}
	for _, tt := range tests {
		t.Run(tt.ts, func(t *testing.T) {
			if got := Sign([]byte(secret), tt.ts); got != tt.sign {
				t.Errorf("Sign = %q, want %q", got, tt.sign)
			}
			bot := testutil.NewChatBot(t, hookPath, token, okAnswer)
			var raw string
			bot.Check(func(r testutil.ChatBotRequest) string { raw = r.Query.Encode(); return "" })
			n := newNotifier(bot, config.DingTalkReceiver{Secret: secret})
			ms, _ := strconv.ParseInt(tt.ts, 10, 64)
			n.now = func() time.Time { return time.UnixMilli(ms) }
			if err := n.Notify(context.Background(), notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))); err != nil {
				t.Fatal(err)
			}
			if want := "sign=" + tt.query + "&timestamp=" + tt.ts; !strings.Contains(raw, want) || !strings.Contains(raw, token) {
				t.Errorf("query %q lacks %q or the token", raw, want)
			}
		})
	}
}

// robot plays a signed DingTalk robot: like DingTalk, it refuses a
// timestamp more than an hour from its clock or a wrong sign with 310000.
func robot(t *testing.T) *testutil.ChatBot {
	bot := testutil.NewChatBot(t, hookPath, token, okAnswer)
	bot.Check(func(r testutil.ChatBotRequest) string {
		ts := r.Query.Get("timestamp")
		ms, err := strconv.ParseInt(ts, 10, 64)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "\n" + secret))
		want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
		if err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Hour || r.Query.Get("sign") != want {
			return `{"errcode":310000,"errmsg":"sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}`
		}
		return ""
	})
	return bot
}

// Every request carries a timestamp of its own, and its signature; a
// timestamp an hour old (as a cached one would be) is refused, finally.
func TestFreshSignature(t *testing.T) {
	bot := robot(t)
	n := newNotifier(bot, config.DingTalkReceiver{Secret: secret})
	nf := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	for range 3 {
		if err := n.Notify(context.Background(), nf); err != nil {
			t.Fatal(err)
		}
	}
	clock := time.Now()
	n.now = func() time.Time { clock = clock.Add(1500 * time.Millisecond); return clock }
	for range 2 {
		if err := n.Notify(context.Background(), nf); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, r := range bot.Requests()[3:] {
		ts := r.Query.Get("timestamp")
		if seen[ts] {
			t.Errorf("timestamp %s reused", ts)
		}
		seen[ts] = true
	}
	n.now = func() time.Time { return time.Now().Add(-61 * time.Minute) }
	err := n.Notify(context.Background(), nf)
	var de *notify.DeliveryError
	if !errors.As(err, &de) || de.Retryable || de.Reason != "errcode_310000" || !strings.Contains(err.Error(), "check the robot's security settings") {
		t.Errorf("stale timestamp: %v", err)
	}
	if strings.Contains(err.Error(), "1f6a0000") || strings.Contains(err.Error(), secret) {
		t.Errorf("error leaks a secret: %v", err)
	}
	unsigned := newNotifier(bot, config.DingTalkReceiver{})
	if err := unsigned.Notify(context.Background(), nf); !errors.As(err, &de) || de.Reason != "errcode_310000" {
		t.Errorf("unsigned to a signed robot: %v", err)
	}
	if q := bot.Requests()[len(bot.Requests())-1].Query; q.Has("sign") || q.Has("timestamp") {
		t.Errorf("a robot without secret is sent %v", q)
	}
}

// The page is a markdown message; at comes from the config only and the
// configured mentions end the text.
func TestMarkdownMessage(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, token, okAnswer)
	n := newNotifier(bot, config.DingTalkReceiver{MentionMobiles: []string{"13800000000"}, BotFields: config.BotFields{MentionUsers: []string{"manager4520"}}})
	if err := n.Notify(context.Background(), notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))); err != nil {
		t.Fatal(err)
	}
	body := bot.Requests()[0].Body
	m := decode(t, body)
	want := At{AtMobiles: []string{"13800000000"}, AtUserIDs: []string{"manager4520"}}
	if m.MsgType != "markdown" || !cmp.Equal(m.At, want) {
		t.Errorf("msgtype %q at %+v, want %+v", m.MsgType, m.At, want)
	}
	if !strings.HasSuffix(m.Markdown.Text, "\n\n@13800000000 @manager4520") || !strings.Contains(m.Markdown.Text, Keyword) {
		t.Errorf("text: %q", m.Markdown.Text)
	}
	golden(t, "doc-sample.dingtalk.json", body)
}

// dingLive finds what DingTalk markdown acts on: tags, links and images,
// entities, URLs.
var dingLive = regexp.MustCompile(`<[^<>]*>|\]\(|&[a-z#0-9]+;|://`)

// The hostile sample renders inert: no tag, link, entity, URL or mention
// of a configured person comes from it; every piece is still there to read.
func TestHostileSample(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, token, okAnswer)
	n := newNotifier(bot, config.DingTalkReceiver{MentionMobiles: []string{"13800000000"}, BotFields: config.BotFields{MentionUsers: []string{"zhangsan"}}})
	if err := n.Notify(context.Background(), notification(testutil.ChatHostileEvent(t))); err != nil {
		t.Fatal(err)
	}
	body := bot.Requests()[0].Body
	golden(t, "hostile-text.dingtalk.json", body)
	m := decode(t, body)
	if m.At.IsAtAll || len(m.At.AtMobiles) != 1 || len(m.At.AtUserIDs) != 1 {
		t.Errorf("at = %+v", m.At)
	}
	if m.Markdown.Title != "[critical] 10023 group-rate-limit in @TGS#2J4SZEAEL (http：//evil.example) from <!channel>" {
		t.Errorf("title %q", m.Markdown.Title)
	}
	ours := strings.NewReplacer("<font color=#E01E5A>", "", "<font color=#888888>", "", "</font>", "")
	for _, s := range []string{m.Markdown.Text} {
		s = ours.Replace(s)
		// Only the configured mentions, once each at the end.
		if strings.Count(s, "@13800000000")+strings.Count(s, "@zhangsan") > 2 || strings.Contains(s, "@all") {
			t.Errorf("a payload mention survives: %q", s)
		}
		for _, seq := range dingLive.FindAllString(s, -1) {
			t.Errorf("live sequence %q", seq)
		}
		for _, a := range append(testutil.ChatAttacks, "<!here>", "<script>") {
			if a != "@13800000000" && strings.Contains(s, a) {
				t.Errorf("%q survives", a)
			}
		}
	}
	for _, inert := range []string{"＜＠zhangsan＞", "＠13800000000 ＠all", "［click to verify］(http：//evil.example/x)", "＜!here＞ urgent", "@TGS#2J4SZEAEL"} {
		if !strings.Contains(m.Markdown.Text, inert) {
			t.Errorf("text lacks %q", inert)
		}
	}
}

// Whatever the payload's size, the text stays within 20,000 bytes, valid
// UTF-8, cut with a visible marker, the configured mentions kept.
func TestSizeLimit(t *testing.T) {
	n := notification(testutil.ChatHostileEvent(t))
	n.Body = notify.Rendered{Text: strings.Repeat("日本語😀<&>\n", 3000)}
	d := New(&config.DingTalkReceiver{MentionMobiles: []string{"13800000000"}, BotFields: config.BotFields{WebhookURL: "https://oapi.dingtalk.com/robot/send"}}, nil)
	text := d.Message(page.Build(n)).Markdown.Text
	if len(text) > MaxText || len(text) < MaxText-8 || !utf8.ValidString(text) {
		t.Errorf("%d bytes (max %d), valid UTF-8 %v", len(text), MaxText, utf8.ValidString(text))
	}
	if !strings.HasSuffix(text, Truncated+"\n\n@13800000000") {
		t.Errorf("ends …%q", text[len(text)-60:])
	}
}

// 130101 waits out DingTalk's 10-minute block and is retried, then
// delivered; 310000 is final; the others are classified.
func TestErrorCodes(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, token, okAnswer)
	n := newNotifier(bot, config.DingTalkReceiver{})
	nf := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	bot.Script(`{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`)
	err := n.Notify(context.Background(), nf)
	var de *notify.DeliveryError
	if !errors.As(err, &de) || !de.Retryable || de.RetryAfter != 10*time.Minute {
		t.Fatalf("130101: %v", err)
	}
	if err := n.Notify(context.Background(), nf); err != nil || len(bot.Requests()) != 2 {
		t.Fatalf("the retry: %v (%d requests)", err, len(bot.Requests()))
	}
	tests := []struct {
		answer    string
		status    int
		retryable bool
		after     time.Duration
		reason    string
	}{
		{`{"errcode":410100,"errmsg":"send too fast"}`, 200, true, 10 * time.Minute, "errcode_410100"},
		{`{"errcode":-1,"errmsg":"system busy"}`, 200, true, 0, "errcode_-1"},
		{`{"errcode":310000,"errmsg":"keywords not in content"}`, 200, false, 0, "errcode_310000"},
		{`{"errcode":300001,"errmsg":"token is not exist"}`, 200, false, 0, "errcode_300001"},
		{`{"errcode":999999,"errmsg":"new"}`, 200, false, 0, "errcode_other"},
		{`not json`, 200, true, 0, "bad_answer"},
		{``, 503, true, 0, "http_503"},
		{``, 403, false, 0, "http_403"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			err := classify(tt.status, []byte(tt.answer))
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.Retryable != tt.retryable || de.Reason != tt.reason || de.RetryAfter != tt.after {
				t.Errorf("got %+v, want retryable=%v reason=%s after=%v", de, tt.retryable, tt.reason, tt.after)
			}
		})
	}
}

// A rule's title and body templates (rendered with payload values in
// them) are escaped like the page; a line cannot start a heading.
func TestRuleTemplatesEscaped(t *testing.T) {
	n := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	n.Title = notify.Rendered{Text: "storm in " + testutil.ChatAttacks[5]}
	n.Body = notify.Rendered{Text: "# " + strings.Join(testutil.ChatAttacks, "\n")}
	d := New(&config.DingTalkReceiver{MentionMobiles: []string{"13800000000"}, BotFields: config.BotFields{WebhookURL: "https://oapi.dingtalk.com/robot/send"}}, nil)
	m := d.Message(page.Build(n))
	text := strings.NewReplacer("<font color=#E01E5A>", "", "<font color=#888888>", "", "</font>", "").Replace(m.Markdown.Text)
	if seq := dingLive.FindString(text); seq != "" {
		t.Errorf("live sequence %q in\n%s", seq, text)
	}
	for _, l := range strings.Split(text, "\n")[1:] { // the first is the page's own heading
		if strings.HasPrefix(strings.TrimLeft(l, " "), "#") {
			t.Errorf("line starts a heading: %q", l)
		}
	}
	if strings.Count(text, "@13800000000") != 1 || m.Markdown.Title != "storm in [click to verify](http：//evil.example/x)" {
		t.Errorf("title %q, text:\n%s", m.Markdown.Title, text)
	}
}

// A rule's digest: its tables as rows, names escaped like any payload
// value.
func TestDigestGolden(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, token, okAnswer)
	n := newNotifier(bot, config.DingTalkReceiver{})
	d := notify.NewDigest(testutil.SampleTime.Add(-10*time.Minute), 10*time.Minute)
	for _, ev := range testutil.DigestEvents() {
		d.Add(ev)
	}
	nf := &notify.Notification{ID: "d1", Receiver: "r", Rule: "rate-limit-storm", RuleFile: "rules/im.yaml", RuleLine: 9,
		Severity: callback.SeverityInfo, Digest: d, CreatedAt: testutil.SampleTime}
	if err := n.Notify(context.Background(), nf); err != nil {
		t.Fatal(err)
	}
	golden(t, "digest.dingtalk.json", bot.Requests()[0].Body)
}
