package feishu

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
	hookPath = "/open-apis/bot/v2/hook/0c3f0000-feishu-hook-0000-5e1a"
	okAnswer = `{"code":0,"data":{},"msg":"success"}`
	secret   = "feishu-secret-example"
)

func notification(ev *callback.Event) *notify.Notification {
	at := ev.ReceivedAt
	return &notify.Notification{
		ID: "0123456789abcdef", Receiver: "ops-feishu", Rule: "group-rate-limit", RuleFile: "rules/im.yaml", RuleLine: 2,
		Severity: callback.SeverityWarning, GroupKey: `GroupId="` + ev.GroupID + `"`, Event: ev,
		CodeMeaning: "message sending frequency over the limit",
		Throttle: notify.Throttled{Window: 10 * time.Minute, Suppressed: 3, Since: at.Add(-10 * time.Minute),
			First: at.Add(-9 * time.Minute), Last: at.Add(-time.Minute)},
		CreatedAt: at,
	}
}

func newNotifier(bot *testutil.ChatBot, cfg config.FeishuReceiver, external string) *Notifier {
	cfg.WebhookURL = config.Secret(bot.URL)
	return New(&cfg, &http.Client{Timeout: 5 * time.Second}, external)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.GoldenJSON(t, name, got, *update)
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Signature vectors, computed independently of this code:
//
//	printf '' | openssl dgst -sha256 -binary \
//	  -hmac "$(printf '1764079387\nfeishu-secret-example')" | base64
//
// and the same with python3 (hmac.new(ts+"\n"+secret, b"", sha256), base64).
func TestSignVector(t *testing.T) {
	if got, want := Sign([]byte(secret), "1764079387"), "GedP8B3iM1MwRVG5GVEKcu2R1Zh7WxiiO80EKFCHYQY="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
	bot := testutil.NewChatBot(t, hookPath, "", okAnswer)
	n := newNotifier(bot, config.FeishuReceiver{Secret: secret}, "")
	n.now = func() time.Time { return time.Unix(1764079387, 0) }
	if err := n.Notify(context.Background(), notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))); err != nil {
		t.Fatal(err)
	}
	m := decode(t, bot.Requests()[0].Body)
	if m["timestamp"] != "1764079387" || m["sign"] != "GedP8B3iM1MwRVG5GVEKcu2R1Zh7WxiiO80EKFCHYQY=" {
		t.Errorf("timestamp %v sign %v", m["timestamp"], m["sign"])
	}
}

// robot plays a signed Feishu bot: it refuses a timestamp an hour off or a
// wrong sign with 19021, as Feishu does (HTTP 200 or 400).
func robot(t *testing.T) *testutil.ChatBot {
	bot := testutil.NewChatBot(t, hookPath, "", okAnswer)
	bot.Check(func(r testutil.ChatBotRequest) string {
		var m struct{ Timestamp, Sign string }
		_ = json.Unmarshal(r.Body, &m)
		s, err := strconv.ParseInt(m.Timestamp, 10, 64)
		mac := hmac.New(sha256.New, []byte(m.Timestamp+"\n"+secret))
		if err != nil || time.Since(time.Unix(s, 0)).Abs() > time.Hour || m.Sign != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			return `{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}`
		}
		return ""
	})
	return bot
}

// Each request carries a timestamp of its own and its signature; one an
// hour old (as a cached one would be) is refused, finally.
func TestFreshSignature(t *testing.T) {
	bot := robot(t)
	n := newNotifier(bot, config.FeishuReceiver{Secret: secret}, "")
	nf := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	if err := n.Notify(context.Background(), nf); err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	n.now = func() time.Time { clock = clock.Add(2 * time.Second); return clock }
	for range 2 {
		if err := n.Notify(context.Background(), nf); err != nil {
			t.Fatal(err)
		}
	}
	reqs := bot.Requests()
	a, b := decode(t, reqs[1].Body), decode(t, reqs[2].Body)
	if a["timestamp"] == b["timestamp"] || a["sign"] == b["sign"] {
		t.Errorf("timestamp or sign reused: %v %v", a["timestamp"], b["timestamp"])
	}
	n.now = func() time.Time { return time.Now().Add(-61 * time.Minute) }
	err := n.Notify(context.Background(), nf)
	var de *notify.DeliveryError
	if !errors.As(err, &de) || de.Retryable || de.Reason != "code_19021" || !strings.Contains(err.Error(), "check secret") {
		t.Errorf("stale timestamp: %v", err)
	}
	if strings.Contains(err.Error(), "0c3f0000") || strings.Contains(err.Error(), secret) {
		t.Errorf("error leaks a secret: %v", err)
	}
	unsigned := decode(t, func() []byte {
		_ = newNotifier(bot, config.FeishuReceiver{}, "").Notify(context.Background(), nf)
		r := bot.Requests()
		return r[len(r)-1].Body
	}())
	if _, ok := unsigned["sign"]; ok {
		t.Error("a bot without secret is sent a sign")
	}
}

// The page is an interactive card: header coloured by severity, the code
// and its meaning, the fields, the excerpt, the configured mentions, a
// button to imalert when external_url is set, the footer.
func TestCard(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, "", okAnswer)
	n := newNotifier(bot, config.FeishuReceiver{BotFields: config.BotFields{MentionUsers: []string{"ou_7d8a6e6df7621556ce0d21922b676706"}, MentionAll: true}}, "https://imalert.example.com")
	if err := n.Notify(context.Background(), notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))); err != nil {
		t.Fatal(err)
	}
	body := bot.Requests()[0].Body
	golden(t, "doc-sample.feishu.json", body)
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	c := m.Card
	if m.MsgType != "interactive" || c.Header.Template != "orange" || c.Header.Title.Content != "🟠 warning · group-rate-limit · group @TGS#2J4SZEAEL" {
		t.Errorf("msg_type %q header %+v", m.MsgType, c.Header)
	}
	tags := []string{}
	for _, e := range c.Elements {
		tags = append(tags, e.Tag)
	}
	if d := cmp.Diff([]string{"div", "div", "div", "div", "action", "note"}, tags); d != "" {
		t.Errorf("elements (-want +got):\n%s", d)
	}
	if c.Elements[3].Text.Content != "<at id=ou_7d8a6e6df7621556ce0d21922b676706></at> <at id=all></at>" {
		t.Errorf("mentions: %q", c.Elements[3].Text.Content)
	}
	if b := c.Elements[4].Actions[0]; b.URL != "https://imalert.example.com" {
		t.Errorf("button %+v", b)
	}
	linked := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	linked.Link, linked.MuteLink = "https://imalert.example.com/ui/events/7", "https://imalert.example.com/ui/mute/tok.mac"
	acts := n.Message(page.Build(linked)).Card.Elements[4].Actions
	if len(acts) != 2 || acts[0].URL != linked.Link || acts[1].URL != linked.MuteLink || acts[1].Text.Content != "Mute 1 h" {
		t.Errorf("buttons with a mute link: %+v", acts)
	}
	for _, sev := range []struct{ severity, colour string }{{"critical", "red"}, {"info", "blue"}} {
		nf := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
		nf.Severity = sev.severity
		if got := n.Message(page.Build(nf)).Card.Header.Template; got != sev.colour {
			t.Errorf("%s: header %s, want %s", sev.severity, got, sev.colour)
		}
	}
	if noURL := New(&config.FeishuReceiver{}, nil, "").Message(page.Build(notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json")))); len(noURL.Card.Elements) != 4 {
		t.Errorf("without external_url: %d elements, want no button and no mentions", len(noURL.Card.Elements))
	}
}

// larkLive finds what lark_md acts on: tags (<at>, <font>), links,
// entities, URLs.
var larkLive = regexp.MustCompile(`<[^<>]*>|\]\(|&[a-z#0-9]+;|://`)

// The hostile sample renders inert in every string of the card; the
// configured mention is the only <at>.
func TestHostileSample(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, "", okAnswer)
	n := newNotifier(bot, config.FeishuReceiver{BotFields: config.BotFields{MentionUsers: []string{"ou_oncall"}}}, "")
	if err := n.Notify(context.Background(), notification(testutil.ChatHostileEvent(t))); err != nil {
		t.Fatal(err)
	}
	body := bot.Requests()[0].Body
	golden(t, "hostile-text.feishu.json", body)
	var v any
	_ = json.Unmarshal(body, &v)
	strs := testutil.JSONStrings(v)
	if len(strs) < 15 {
		t.Fatalf("only %d strings", len(strs))
	}
	for _, s := range strs {
		if s == "<at id=ou_oncall></at>" {
			continue
		}
		for _, seq := range larkLive.FindAllString(s, -1) {
			t.Errorf("live sequence %q in %q", seq, s)
		}
		for _, a := range append(testutil.ChatAttacks, "<!here>", "<script>") {
			if !strings.HasPrefix(a, "@") && strings.Contains(s, a) {
				t.Errorf("%q survives in %q", a, s)
			}
		}
	}
	all := strings.Join(strs, "\n")
	for _, inert := range []string{"＜at user_id=\"all\"＞", "＜at id=ou_0123＞", "［click to verify］(http：//evil.example/x)", "＜!here＞ urgent", "@TGS#2J4SZEAEL"} {
		if !strings.Contains(all, inert) {
			t.Errorf("card lacks %q", inert)
		}
	}
}

// Whatever the payload's size, the body stays within 20 KB, valid UTF-8,
// cut with a visible marker, signed.
func TestSizeLimit(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, "", okAnswer)
	n := newNotifier(bot, config.FeishuReceiver{Secret: secret}, "https://imalert.example.com")
	big := notification(testutil.ChatHostileEvent(t))
	big.Body = notify.Rendered{Text: strings.Repeat("日本語😀<&>\n", 3000)}
	d := notify.NewDigest(testutil.SampleTime, 10*time.Minute)
	for i := range 5000 { // a digest's code table has a row per code
		d.Add(&callback.Event{GroupID: "g", ErrorCode: int64(i), Present: callback.FieldErrorCode})
	}
	digest := &notify.Notification{ID: "d", Rule: "storm", Severity: "info", Digest: d, CreatedAt: testutil.SampleTime}
	for _, nf := range []*notify.Notification{big, digest} {
		if err := n.Notify(context.Background(), nf); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range bot.Requests() {
		t.Logf("request %d: %d bytes", i, len(r.Body))
		if len(r.Body) > MaxBody || len(r.Body) < MaxBody-1024 || !utf8.Valid(r.Body) {
			t.Errorf("request %d: %d bytes (max %d), valid UTF-8 %v", i, len(r.Body), MaxBody, utf8.Valid(r.Body))
		}
		if !strings.Contains(string(r.Body), Truncated) || !strings.Contains(string(r.Body), `"sign":`) {
			t.Errorf("request %d: no truncation marker or no sign", i)
		}
	}
}

// 11232 is retried after a minute, then delivered; 19021 is final; the
// others are classified, answered with HTTP 200 or 400 alike.
func TestErrorCodes(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, "", okAnswer)
	n := newNotifier(bot, config.FeishuReceiver{}, "")
	nf := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	bot.Script(`{"code":11232,"data":{},"msg":"frequency limited psm[lark.oapi.app_platform_runtime]appID[1]"}`)
	err := n.Notify(context.Background(), nf)
	var de *notify.DeliveryError
	if !errors.As(err, &de) || !de.Retryable || de.RetryAfter != time.Minute {
		t.Fatalf("11232: %v", err)
	}
	if err := n.Notify(context.Background(), nf); err != nil || len(bot.Requests()) != 2 {
		t.Fatalf("the retry: %v (%d requests)", err, len(bot.Requests()))
	}
	tests := []struct {
		answer    string
		status    int
		retryable bool
		reason    string
	}{
		{`{"code":19021,"msg":"sign match fail"}`, 400, false, "code_19021"},
		{`{"code":19024,"msg":"Key Words Not Found"}`, 400, false, "code_19024"},
		{`{"code":9499,"msg":"Bad Request"}`, 400, false, "code_9499"},
		{`{"code":11232,"msg":"frequency limited"}`, 400, true, "code_11232"},
		{`{"code":1000,"msg":"internal"}`, 500, true, "code_other"},
		{`{"code":123456789,"msg":"new"}`, 200, false, "code_other"},
		{`{"StatusCode":0,"StatusMessage":"success"}`, 200, false, ""},
		{`<html>`, 502, true, "http_502"},
		{`<html>`, 404, false, "http_404"},
		{`<html>`, 200, true, "bad_answer"},
	}
	for _, tt := range tests {
		t.Run(tt.answer, func(t *testing.T) {
			err := classify(tt.status, []byte(tt.answer))
			if tt.reason == "" {
				if err != nil {
					t.Errorf("err = %v", err)
				}
				return
			}
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.Retryable != tt.retryable || de.Reason != tt.reason {
				t.Errorf("got %v, want retryable=%v reason=%s", err, tt.retryable, tt.reason)
			}
		})
	}
}

// A rule's title and body templates (rendered with payload values in
// them) are escaped like the page.
func TestRuleTemplatesEscaped(t *testing.T) {
	n := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	n.Title = notify.Rendered{Text: "storm in " + testutil.ChatAttacks[5]}
	n.Body = notify.Rendered{Text: strings.Join(testutil.ChatAttacks, "\n")}
	m := New(&config.FeishuReceiver{}, nil, "").Message(page.Build(n))
	raw, _ := json.Marshal(m)
	var v any
	_ = json.Unmarshal(raw, &v)
	for _, s := range testutil.JSONStrings(v) {
		if s == m.Card.Header.Title.Content { // plain_text: only a URL would be live
			if strings.Contains(s, "://") {
				t.Errorf("header links: %q", s)
			}
			continue
		}
		if seq := larkLive.FindString(s); seq != "" {
			t.Errorf("live sequence %q in %q", seq, s)
		}
	}
	if m.Card.Header.Title.Content != "storm in [click to verify](http：//evil.example/x)" || !strings.Contains(m.Card.Elements[0].Text.Content, "＜at user_id=\"all\"＞") {
		t.Errorf("header %q, body %q", m.Card.Header.Title.Content, m.Card.Elements[0].Text.Content)
	}
}

// A rule's digest: its tables as rows, names escaped like any payload
// value.
func TestDigestGolden(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, "", okAnswer)
	n := newNotifier(bot, config.FeishuReceiver{}, "")
	d := notify.NewDigest(testutil.SampleTime.Add(-10*time.Minute), 10*time.Minute)
	for _, ev := range testutil.DigestEvents() {
		d.Add(ev)
	}
	nf := &notify.Notification{ID: "d1", Receiver: "r", Rule: "rate-limit-storm", RuleFile: "rules/im.yaml", RuleLine: 9,
		Severity: callback.SeverityInfo, Digest: d, CreatedAt: testutil.SampleTime}
	if err := n.Notify(context.Background(), nf); err != nil {
		t.Fatal(err)
	}
	golden(t, "digest.feishu.json", bot.Requests()[0].Body)
}
