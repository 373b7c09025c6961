package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	hookPath = "/cgi-bin/webhook/send"
	hookKey  = "key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
	okAnswer = `{"errcode":0,"errmsg":"ok"}`
)

func notification(ev *callback.Event) *notify.Notification {
	at := ev.ReceivedAt
	return &notify.Notification{
		ID: "0123456789abcdef", Receiver: "ops-wecom", Rule: "group-rate-limit", RuleFile: "rules/im.yaml", RuleLine: 2,
		Severity: callback.SeverityWarning, GroupKey: `GroupId="` + ev.GroupID + `"`, Event: ev,
		CodeMeaning: "message sending frequency over the limit",
		Throttle: notify.Throttled{Window: 10 * time.Minute, Suppressed: 3, Since: at.Add(-10 * time.Minute),
			First: at.Add(-9 * time.Minute), Last: at.Add(-time.Minute)},
		CreatedAt: at,
	}
}

func newNotifier(bot *testutil.ChatBot, cfg config.WeComReceiver) *Notifier {
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

// The page is a markdown message to the configured webhook, with its
// configured <@userid> mentions last; the request is what WeCom documents.
func TestMarkdownMessage(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, hookKey, okAnswer)
	n := newNotifier(bot, config.WeComReceiver{})
	n.users = []string{"zhangsan", "lisi"}
	if err := n.Notify(context.Background(), notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))); err != nil {
		t.Fatal(err)
	}
	reqs := bot.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Query.Get("key") != "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("query %v, Content-Type %q", r.Query, r.Header.Get("Content-Type"))
	}
	m := decode(t, r.Body)
	if m.MsgType != "markdown" || m.Markdown == nil || m.Text != nil {
		t.Fatalf("message = %+v", m)
	}
	if !strings.HasSuffix(m.Markdown.Content, "\n<@zhangsan><@lisi>") {
		t.Errorf("mentions are not last: %q", m.Markdown.Content)
	}
	golden(t, "doc-sample.wecom.json", r.Body)
}

// Mentions by mobile, or of everyone, need a text message with WeCom's
// mention lists, and nothing else mentions anyone.
func TestTextMessageForMobileMentions(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, hookKey, okAnswer)
	n := newNotifier(bot, config.WeComReceiver{MentionMobiles: []string{"13800000000"}})
	n.users, n.all = []string{"zhangsan"}, true
	if err := n.Notify(context.Background(), notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))); err != nil {
		t.Fatal(err)
	}
	m := decode(t, bot.Requests()[0].Body)
	if m.MsgType != "text" || m.Text == nil || m.Markdown != nil {
		t.Fatalf("message = %+v", m)
	}
	if d := cmp.Diff([]string{"zhangsan", "@all"}, m.Text.MentionedList); d != "" {
		t.Errorf("mentioned_list (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"13800000000"}, m.Text.MentionedMobileList); d != "" {
		t.Errorf("mentioned_mobile_list (-want +got):\n%s", d)
	}
	if strings.Contains(m.Text.Content, "<font") || strings.Contains(m.Text.Content, "**") {
		t.Errorf("text message carries markdown: %q", m.Text.Content)
	}
}

// wecomLive finds what WeCom markdown acts on: tags (mentions, font),
// links and images, entities.
var wecomLive = regexp.MustCompile(`<[^<>]*>|\]\(|&[a-z#0-9]+;|://`)

// The hostile sample renders inert: no tag, link, entity or URL of it
// survives, in markdown or in text, and every piece is still there to read.
func TestHostileSample(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, hookKey, okAnswer)
	md := newNotifier(bot, config.WeComReceiver{})
	md.users = []string{"oncall"}
	text := newNotifier(bot, config.WeComReceiver{MentionMobiles: []string{"13800000000"}})
	for _, nf := range []*Notifier{md, text} {
		if err := nf.Notify(context.Background(), notification(testutil.ChatHostileEvent(t))); err != nil {
			t.Fatal(err)
		}
	}
	reqs := bot.Requests()
	golden(t, "hostile-text.wecom.json", reqs[0].Body)
	ours := strings.NewReplacer(`<font color="warning">`, "", `<font color="comment">`, "", "</font>", "", "<@oncall>", "")
	for i, r := range reqs {
		m := decode(t, r.Body)
		content := ""
		if m.Markdown != nil {
			content = m.Markdown.Content
		} else {
			content = m.Text.Content
		}
		for _, seq := range wecomLive.FindAllString(ours.Replace(content), -1) {
			t.Errorf("request %d: live sequence %q", i, seq)
		}
		for _, a := range append(testutil.ChatAttacks, "<!here>", "<http://evil.example|click to verify>", "<script>") {
			if strings.HasPrefix(a, "@") { // WeCom mentions only by <@userid> or the mention lists
				continue
			}
			if strings.Contains(ours.Replace(content), a) {
				t.Errorf("request %d: %q survives", i, a)
			}
		}
		for _, inert := range []string{"＜@zhangsan＞", "＜at user_id=\"all\"＞", "［click to verify］(http：//evil.example/x)", "＜!here＞ urgent"} {
			if !strings.Contains(content, inert) {
				t.Errorf("request %d: lacks the neutralised %q", i, inert)
			}
		}
	}
}

// Whatever the payload's size, markdown stays within 4096 bytes and text
// within 2048, valid UTF-8, cut with a visible marker, mentions kept.
func TestSizeLimits(t *testing.T) {
	n := notification(testutil.ChatHostileEvent(t))
	n.Body = notify.Rendered{Text: strings.Repeat("日本語😀<&>", 2000)}
	md := &Notifier{users: []string{"oncall"}}
	text := &Notifier{mobiles: []string{"13800000000"}}
	for _, tt := range []struct {
		name    string
		content string
		max     int
		suffix  string
	}{
		{"markdown", md.Message(pageOf(n)).Markdown.Content, MaxMarkdown, Truncated + "\n<@oncall>"},
		{"text", text.Message(pageOf(n)).Text.Content, MaxText, Truncated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.content) > tt.max || !utf8.ValidString(tt.content) {
				t.Errorf("%d bytes (max %d), valid UTF-8 %v", len(tt.content), tt.max, utf8.ValidString(tt.content))
			}
			if len(tt.content) < tt.max-8 {
				t.Errorf("%d bytes: cut far below %d", len(tt.content), tt.max)
			}
			if !strings.HasSuffix(tt.content, tt.suffix) {
				t.Errorf("does not end in %q: …%q", tt.suffix, tt.content[len(tt.content)-40:])
			}
		})
	}
}

// Error codes: 45009 waits a minute and is retried, then delivered; -1 is
// retried; 93000 and unknown codes are final; the webhook key never
// appears in an error.
func TestErrorCodes(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, hookKey, okAnswer)
	n := newNotifier(bot, config.WeComReceiver{})
	nf := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	bot.Script(`{"errcode":45009,"errmsg":"api freq out of limit"}`)
	err := n.Notify(context.Background(), nf)
	var de *notify.DeliveryError
	if !errors.As(err, &de) || !de.Retryable || de.RetryAfter != time.Minute || de.Reason != "errcode_45009" {
		t.Fatalf("45009: %v", err)
	}
	if err := n.Notify(context.Background(), nf); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if len(bot.Requests()) != 2 {
		t.Errorf("%d requests, want 2", len(bot.Requests()))
	}
	tests := []struct {
		answer    string
		status    int
		retryable bool
		reason    string
	}{
		{`{"errcode":-1,"errmsg":"system busy"}`, 200, true, "errcode_-1"},
		{`{"errcode":93000,"errmsg":"invalid webhook url"}`, 200, false, "errcode_93000"},
		{`{"errcode":40008,"errmsg":"invalid message type"}`, 200, false, "errcode_40008"},
		{`{"errcode":123456,"errmsg":"new"}`, 200, false, "errcode_other"},
		{`<html>bad gateway</html>`, 200, true, "bad_answer"},
		{``, 502, true, "http_502"},
		{``, 404, false, "http_404"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			err := classify(tt.status, []byte(tt.answer))
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.Retryable != tt.retryable || de.Reason != tt.reason {
				t.Errorf("got %v, want retryable=%v reason=%s", err, tt.retryable, tt.reason)
			}
		})
	}
	bot.Script(`{"errcode":93000,"errmsg":"invalid webhook url, hint: [1764079387]"}`)
	err = n.Notify(context.Background(), nf)
	if !errors.As(err, &de) || de.Retryable || !strings.Contains(err.Error(), "check webhook_url") || strings.Contains(err.Error(), "693a91f6") {
		t.Errorf("93000: %v", err)
	}
	dead := New(&config.WeComReceiver{}, &http.Client{Timeout: time.Second})
	dead.url = "http://127.0.0.1:1" + hookPath + "?" + hookKey
	if err := dead.Notify(context.Background(), nf); !errors.As(err, &de) || !de.Retryable || strings.Contains(err.Error(), "693a91f6") {
		t.Errorf("connection refused: %v", err)
	}
}

// A rule's title and body templates (rendered with payload values in
// them) are escaped like the page; a line cannot start a heading.
func TestRuleTemplatesEscaped(t *testing.T) {
	n := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	n.Title = notify.Rendered{Text: "storm in " + testutil.ChatAttacks[5]}
	n.Body = notify.Rendered{Text: "# " + strings.Join(testutil.ChatAttacks, "\n")}
	content := (&Notifier{}).Message(pageOf(n)).Markdown.Content
	ours := strings.NewReplacer(`<font color="warning">`, "", `<font color="comment">`, "", "</font>", "")
	if seq := wecomLive.FindString(ours.Replace(content)); seq != "" {
		t.Errorf("live sequence %q in\n%s", seq, content)
	}
	for _, l := range strings.Split(content, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), "#") {
			t.Errorf("line starts a heading: %q", l)
		}
	}
	if !strings.Contains(content, "**storm in ［click to verify］(http：//evil.example/x)**") || !strings.Contains(content, "＃ ＜@zhangsan＞") {
		t.Errorf("templates not shown:\n%s", content)
	}
}

// A rule's digest: its tables as rows, names escaped like any payload
// value.
func TestDigestGolden(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, hookKey, okAnswer)
	n := newNotifier(bot, config.WeComReceiver{})
	d := notify.NewDigest(testutil.SampleTime.Add(-10*time.Minute), 10*time.Minute)
	for _, ev := range testutil.DigestEvents() {
		d.Add(ev)
	}
	nf := &notify.Notification{ID: "d1", Receiver: "r", Rule: "rate-limit-storm", RuleFile: "rules/im.yaml", RuleLine: 9,
		Severity: callback.SeverityInfo, Digest: d, CreatedAt: testutil.SampleTime}
	if err := n.Notify(context.Background(), nf); err != nil {
		t.Fatal(err)
	}
	golden(t, "digest.wecom.json", bot.Requests()[0].Body)
}
