// Package wecom delivers notifications to a WeCom (企业微信) group robot
// through its webhook: a markdown message, or a text message when the
// receiver mentions people by mobile number or mentions everyone, which
// WeCom honours only in text messages.
package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/botpost"
	"github.com/imalert/imalert/internal/escape"
)

// WeCom's limits, in bytes of UTF-8.
const (
	MaxMarkdown = 4096
	MaxText     = 2048
)

// Truncated ends a message cut to fit.
const Truncated = "\n…(truncated)"

// Error codes with a meaning of their own.
const (
	codeOK          = 0
	codeBusy        = -1    // system busy
	codeRateLimit   = 45009 // over 20 messages a minute
	codeConcurrency = 45033 // too many concurrent calls
	codeBadWebhook  = 93000 // the webhook's key is invalid or the robot removed
)

// knownCodes are the codes WeCom documents for robots; each is its own
// failure reason, the rest count as errcode_other.
var knownCodes = map[int]bool{
	codeBusy: true, 40008: true, 40058: true, 44004: true, codeRateLimit: true, codeConcurrency: true,
	codeBadWebhook: true, 93004: true,
}

// rateLimitWait is how long 45009 holds the robot's queue: the limit is
// per minute, so a minute clears it.
const rateLimitWait = time.Minute

// Notifier posts to one robot.
type Notifier struct {
	url     string
	client  *http.Client
	users   []string
	mobiles []string
	all     bool
}

// New returns a Notifier for cfg. client must carry a timeout.
func New(cfg *config.WeComReceiver, client *http.Client) *Notifier {
	return &Notifier{url: cfg.WebhookURL.Reveal(), client: client,
		users: cfg.MentionUsers, mobiles: cfg.MentionMobiles, all: cfg.MentionAll}
}

// Message is the robot's request body.
type Message struct {
	MsgType  string    `json:"msgtype"`
	Markdown *Markdown `json:"markdown,omitempty"`
	Text     *Text     `json:"text,omitempty"`
}

// Markdown is a markdown message.
type Markdown struct {
	Content string `json:"content"`
}

// Text is a text message, the only kind whose mentions by mobile number
// and of everyone WeCom honours.
type Text struct {
	Content             string   `json:"content"`
	MentionedList       []string `json:"mentioned_list,omitempty"`
	MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
}

// Message renders p for this robot. Mentions come only from the config;
// every payload-derived string is escaped (Escape).
func (w *Notifier) Message(p *page.Page) *Message {
	if len(w.mobiles) > 0 || w.all {
		users := w.users
		if w.all {
			users = append(append([]string{}, users...), "@all")
		}
		return &Message{MsgType: "text", Text: &Text{
			Content:       escape.TruncateBytes(render(p, false), MaxText, Truncated),
			MentionedList: users, MentionedMobileList: w.mobiles,
		}}
	}
	var mentions string
	for _, u := range w.users {
		mentions += "<@" + u + ">" // config-validated ids: letters, digits, _.@-
	}
	if mentions != "" {
		mentions = "\n" + mentions
	}
	content := escape.TruncateBytes(render(p, true), MaxMarkdown-len(mentions), Truncated) + mentions
	return &Message{MsgType: "markdown", Markdown: &Markdown{Content: content}}
}

// escaper neutralises what WeCom's markdown and clients act on: tags
// (<@userid> mentions, <font>), links and images [x](y), bold and code,
// HTML entities, and the scheme of a bare URL that clients would link. The
// replacements are full-width look-alikes, so the text reads the same; ids
// (@TGS#…, user_1) are left as they are, since WeCom's markdown gives @, #
// and _ no meaning inside a line.
var escaper = strings.NewReplacer(
	"<", "＜", ">", "＞", "[", "［", "]", "］", "*", "＊", "`", "｀", "&", "＆", "://", "：//",
)

// Escape makes s inert in a WeCom message: escaper, and no line may start
// a heading.
func Escape(s string) string {
	lines := strings.Split(escaper.Replace(s), "\n")
	for i, l := range lines {
		if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, "#") {
			lines[i] = l[:len(l)-len(t)] + "＃" + t[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// colours of the title, by severity (WeCom's three markdown colours).
var colours = map[string]string{"critical": "warning", "warning": "warning", "info": "info"}

// render lays p out as markdown, or as plain text when md is false.
func render(p *page.Page, md bool) string {
	var b strings.Builder
	bold := func(s string) string {
		if md {
			return "**" + s + "**"
		}
		return s
	}
	if md {
		fmt.Fprintf(&b, "<font color=\"%s\">%s</font>\n", colours[p.Severity], bold(Escape(p.Title)))
	} else {
		b.WriteString(Escape(p.Title) + "\n")
	}
	if t := p.CustomTitle.Text; t != "" {
		b.WriteString(bold(Escape(t)) + "\n")
	}
	if body := p.CustomBody.Text; body != "" {
		b.WriteString(Escape(strings.TrimRight(body, "\n")) + "\n")
	} else {
		b.WriteString(bold(Escape(p.Headline)) + "\n")
		if p.ErrorInfo != "" {
			b.WriteString(Escape(p.ErrorInfo) + "\n")
		}
		quote := ""
		if md {
			quote = "> "
		}
		for _, f := range p.Fields {
			// Digest tables are one field with a row per line; rows are
			// indented with ideographic spaces, which markdown leaves alone
			// (four ASCII spaces would start a code block).
			rows := strings.Split(f.Value, "\n")
			fmt.Fprintf(&b, "%s%s: %s\n", quote, bold(f.Label), Escape(rows[0]))
			for _, r := range rows[1:] {
				b.WriteString(quote + "\u3000\u3000" + Escape(r) + "\n")
			}
		}
		if p.Excerpt != "" {
			fmt.Fprintf(&b, "%s%s: %s\n", quote, bold("Message"), Escape(p.Excerpt))
		}
	}
	if len(p.Footer) > 0 {
		foot := Escape(strings.Join(p.Footer, " · "))
		if md {
			foot = `<font color="comment">` + foot + `</font>`
		}
		b.WriteString(foot)
	}
	return strings.TrimRight(b.String(), "\n")
}

// Notify implements notify.Notifier with one POST.
func (w *Notifier) Notify(ctx context.Context, n *notify.Notification) error {
	body, err := json.Marshal(w.Message(page.Build(n)))
	if err != nil {
		return notify.Permanent("payload", fmt.Errorf("wecom: payload: %w", err))
	}
	status, answer, err := botpost.Post(ctx, w.client, "wecom", w.url, body)
	if err != nil {
		return err
	}
	return classify(status, answer)
}

// classify reads an answer: errcode 0 is delivered; 45009 (rate limit) is
// retried after a minute, -1 and 45033 (busy) after the backoff; 93000
// (invalid webhook) and every other code are final, since they name a
// configuration or content problem that retrying cannot fix. HTTP 408, 429
// and 5xx are retried, other non-2xx statuses are final.
func classify(status int, body []byte) error {
	if err := botpost.StatusError("wecom", status); err != nil {
		return err
	}
	c, err := botpost.ReadErrCode("wecom", body, knownCodes)
	if err != nil {
		return err
	}
	code, reason, e := c.Code, c.Reason, c.Err
	if code == codeOK {
		return nil
	}
	switch code {
	case codeRateLimit:
		return &notify.DeliveryError{Retryable: true, Reason: reason, RetryAfter: rateLimitWait, Err: e}
	case codeBusy, codeConcurrency:
		return notify.Retryable(reason, e)
	case codeBadWebhook:
		return notify.Permanent(reason, fmt.Errorf("%w (check webhook_url: the robot's key is wrong or the robot was removed)", e))
	}
	return notify.Permanent(reason, e)
}
