// Package dingtalk delivers notifications to a DingTalk (钉钉) custom robot
// through its webhook, as a markdown message. With the robot's signing
// secret every request is signed afresh (Sign).
package dingtalk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/botpost"
	"github.com/imalert/imalert/internal/escape"
)

// MaxText is DingTalk's limit on a markdown message's text, in bytes.
const MaxText = 20000

// Truncated ends a text cut to fit.
const Truncated = "\n\n…(truncated)"

// Keyword is in every message, for robots whose security setting is
// "custom keywords".
const Keyword = "imalert"

// Error codes with a meaning of their own.
const (
	codeOK        = 0
	codeBusy      = -1
	codeTooFast   = 130101 // over 20 a minute: the robot is blocked for 10 minutes
	codeTooFast2  = 410100 // the same limit, as newer robots report it
	codeSignature = 310000 // signature, keyword or IP allowlist mismatch
)

// knownCodes are the codes DingTalk documents for custom robots; each is
// its own failure reason, the rest count as errcode_other.
var knownCodes = map[int]bool{
	codeBusy: true, codeTooFast: true, codeTooFast2: true, codeSignature: true,
	300001: true, 400102: true, 400105: true, 460101: true,
}

// blockedFor is how long DingTalk blocks a robot past its limit; retrying
// sooner fails again.
const blockedFor = 10 * time.Minute

// Notifier posts to one robot.
type Notifier struct {
	url     *url.URL
	secret  []byte
	client  *http.Client
	now     func() time.Time
	mobiles []string
	users   []string
	all     bool
	// atEscaper neutralises @mentions of the configured people in
	// payload text: DingTalk shows "@<mobile>" as a mention of anyone
	// the message's at list names.
	atEscaper *strings.Replacer
}

// New returns a Notifier for cfg. client must carry a timeout.
func New(cfg *config.DingTalkReceiver, client *http.Client) *Notifier {
	u, err := url.Parse(cfg.WebhookURL.Reveal()) // validated at config load
	if err != nil {
		u = nil // Notify reports it, without the URL
	}
	d := &Notifier{url: u, client: client, now: time.Now,
		mobiles: cfg.MentionMobiles, users: cfg.MentionUsers, all: cfg.MentionAll}
	if cfg.Secret.IsSet() {
		d.secret = []byte(cfg.Secret.Reveal())
	}
	pairs := []string{"@all", "＠all", "@所有人", "＠所有人"}
	for _, m := range append(append([]string{}, d.mobiles...), d.users...) {
		pairs = append(pairs, "@"+m, "＠"+m)
	}
	d.atEscaper = strings.NewReplacer(pairs...)
	return d
}

// Sign returns the signature of a request sent at timestamp (Unix
// milliseconds, decimal): base64(HMAC-SHA256(key = secret, message =
// timestamp + "\n" + secret)). It goes in the query as sign, URL-encoded.
func Sign(secret []byte, timestamp string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'\n'})
	mac.Write(secret)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Message is the robot's request body.
type Message struct {
	MsgType  string   `json:"msgtype"`
	Markdown Markdown `json:"markdown"`
	At       At       `json:"at"`
}

// Markdown is a markdown message: Title is what the conversation list and
// the notification show.
type Markdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// At names whom the message mentions: only the receiver's config.
type At struct {
	AtMobiles []string `json:"atMobiles,omitempty"`
	AtUserIDs []string `json:"atUserIds,omitempty"`
	IsAtAll   bool     `json:"isAtAll"`
}

// Message renders p for this robot.
func (d *Notifier) Message(p *page.Page) *Message {
	// A mention shows where its @ is in the text: put the configured ones
	// last, after the cut.
	var mentions string
	for _, m := range append(append([]string{}, d.mobiles...), d.users...) {
		mentions += " @" + m
	}
	if mentions != "" {
		mentions = "\n\n" + strings.TrimSpace(mentions)
	}
	title := p.Preview
	if p.CustomTitle.Text != "" {
		title = p.CustomTitle.Text
	}
	return &Message{
		MsgType: "markdown",
		Markdown: Markdown{
			// The title is shown as plain text (conversation list,
			// notification): only links and mentions need defusing.
			Title: d.atEscaper.Replace(strings.ReplaceAll(escape.Clean(title, page.MaxField), "://", "：//")),
			Text:  escape.TruncateBytes(d.render(p), MaxText-len(mentions), Truncated) + mentions,
		},
		At: At{AtMobiles: d.mobiles, AtUserIDs: d.users, IsAtAll: d.all},
	}
}

// escaper neutralises what DingTalk's markdown acts on: tags (<font>,
// HTML), links and images [x](y), emphasis and code, HTML entities, and the
// scheme of a bare URL that clients would link. The replacements are
// full-width look-alikes, so the text reads the same.
var escaper = strings.NewReplacer(
	"<", "＜", ">", "＞", "[", "［", "]", "］", "*", "＊", "`", "｀", "&", "＆", "://", "：//",
)

// escape makes s inert in a DingTalk message: escaper, the configured
// people's @mentions, and no line may start a heading.
func (d *Notifier) escape(s string) string {
	lines := strings.Split(d.atEscaper.Replace(escaper.Replace(s)), "\n")
	for i, l := range lines {
		if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, "#") {
			lines[i] = l[:len(l)-len(t)] + "＃" + t[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// colours of the title, by severity.
var colours = map[string]string{"critical": "#E01E5A", "warning": "#E8912D", "info": "#36A3F0"}

// render lays p out as DingTalk markdown; paragraphs are separated by a
// blank line, which every DingTalk client shows as a line break.
func (d *Notifier) render(p *page.Page) string {
	var paras []string
	add := func(s string) { paras = append(paras, s) }
	add(fmt.Sprintf("#### <font color=%s>%s</font>", colours[p.Severity], d.escape(p.Title)))
	if t := p.CustomTitle.Text; t != "" {
		add("**" + d.escape(t) + "**")
	}
	if body := p.CustomBody.Text; body != "" {
		for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
			add(d.escape(l))
		}
	} else {
		add("**" + d.escape(p.Headline) + "**")
		if p.ErrorInfo != "" {
			add(d.escape(p.ErrorInfo))
		}
		for _, f := range p.Fields {
			// Digest tables are one field with a row per line; rows are
			// indented with ideographic spaces, which markdown leaves alone
			// (four ASCII spaces would start a code block).
			rows := strings.Split(f.Value, "\n")
			add("> **" + f.Label + "**: " + d.escape(rows[0]))
			for _, r := range rows[1:] {
				add("> \u3000\u3000" + d.escape(r))
			}
		}
		if p.Excerpt != "" {
			add("> **Message**: " + d.escape(p.Excerpt))
		}
	}
	add("<font color=#888888>" + d.escape(strings.Join(append(p.Footer, Keyword), " · ")) + "</font>")
	return strings.Join(paras, "\n\n")
}

// Notify implements notify.Notifier with one POST, signed when the robot
// has a secret. The timestamp is taken now, for this request only: DingTalk
// refuses one more than an hour old.
func (d *Notifier) Notify(ctx context.Context, n *notify.Notification) error {
	body, err := json.Marshal(d.Message(page.Build(n)))
	if err != nil {
		return notify.Permanent("payload", fmt.Errorf("dingtalk: payload: %w", err))
	}
	if d.url == nil {
		return notify.Permanent("config", errors.New("dingtalk: bad webhook_url"))
	}
	u := *d.url
	if d.secret != nil {
		ts := strconv.FormatInt(d.now().UnixMilli(), 10)
		q := u.Query()
		q.Set("timestamp", ts)
		q.Set("sign", Sign(d.secret, ts)) // Encode URL-encodes it
		u.RawQuery = q.Encode()
	}
	status, answer, err := botpost.Post(ctx, d.client, "dingtalk", u.String(), body)
	if err != nil {
		return err
	}
	return classify(status, answer)
}

// classify reads an answer: errcode 0 is delivered; 130101 and 410100
// (too fast: the robot is blocked for 10 minutes) are retried after those
// 10 minutes, -1 (busy) after the backoff; 310000 (signature, keyword or
// IP) and every other code are final, since retrying cannot fix them.
// HTTP 408, 429 and 5xx are retried, other non-2xx statuses are final.
func classify(status int, body []byte) error {
	if err := botpost.StatusError("dingtalk", status); err != nil {
		return err
	}
	c, err := botpost.ReadErrCode("dingtalk", body, knownCodes)
	if err != nil {
		return err
	}
	code, reason, e := c.Code, c.Reason, c.Err
	if code == codeOK {
		return nil
	}
	switch code {
	case codeTooFast, codeTooFast2:
		return &notify.DeliveryError{Retryable: true, Reason: reason, RetryAfter: blockedFor, Err: e}
	case codeBusy:
		return notify.Retryable(reason, e)
	case codeSignature:
		return notify.Permanent(reason, fmt.Errorf("%w (check the robot's security settings: with \"signature\", secret must be the robot's SEC… secret and this host's clock right; with \"custom keywords\", add the keyword %q; with \"IP addresses\", allow this host's address)", e, Keyword))
	}
	return notify.Permanent(reason, e)
}
