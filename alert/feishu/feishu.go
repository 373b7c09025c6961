// Package feishu delivers notifications to a Feishu or Lark (飞书) custom
// bot through its webhook, as an interactive card. With the bot's signing
// secret every request is signed afresh (Sign).
package feishu

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/botpost"
	"github.com/imalert/imalert/internal/escape"
)

// MaxBody is Feishu's limit on a request body, in bytes (20 KB).
const MaxBody = 20000

// Truncated ends a text cut to fit.
const Truncated = "…(truncated)"

// Error codes with a meaning of their own.
const (
	codeOK        = 0
	codeThrottled = 11232 // over 100 a minute or 5 a second
	codeSignature = 19021 // wrong sign, or a timestamp an hour off
)

// knownCodes are the codes Feishu documents for custom bots; each is its
// own failure reason, the rest count as code_other.
var knownCodes = map[int]bool{
	9499: true, codeThrottled: true, 19001: true, codeSignature: true, 19022: true, 19024: true,
}

// throttledWait is how long 11232 holds the bot's queue: the tighter limit
// is per minute.
const throttledWait = time.Minute

// Notifier posts to one bot.
type Notifier struct {
	url      string
	secret   []byte // nil: unsigned
	client   *http.Client
	now      func() time.Time
	users    []string
	all      bool
	external string // imalert's UI, for the card's button; empty for none
}

// New returns a Notifier for cfg. client must carry a timeout; externalURL
// is imalert's external_url, empty when unset.
func New(cfg *config.FeishuReceiver, client *http.Client, externalURL string) *Notifier {
	f := &Notifier{url: cfg.WebhookURL.Reveal(), client: client, now: time.Now,
		users: cfg.MentionUsers, all: cfg.MentionAll, external: externalURL}
	if cfg.Secret.IsSet() {
		f.secret = []byte(cfg.Secret.Reveal())
	}
	return f
}

// Sign returns the signature of a request sent at timestamp (Unix seconds,
// decimal): base64(HMAC-SHA256(key = timestamp + "\n" + secret, message =
// empty)). Key and message are the other way round from DingTalk's.
func Sign(secret []byte, timestamp string) string {
	mac := hmac.New(sha256.New, append([]byte(timestamp+"\n"), secret...))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Message is the bot's request body.
type Message struct {
	Timestamp string `json:"timestamp,omitempty"`
	Sign      string `json:"sign,omitempty"`
	MsgType   string `json:"msg_type"`
	Card      Card   `json:"card"`
}

// Card is an interactive message card.
type Card struct {
	Config   CardConfig `json:"config"`
	Header   Header     `json:"header"`
	Elements []Element  `json:"elements"`
}

// CardConfig are the card's display options.
type CardConfig struct {
	WideScreenMode bool `json:"wide_screen_mode"`
}

// Header is the card's coloured title bar.
type Header struct {
	Template string `json:"template"`
	Title    Text   `json:"title"`
}

// Text is a text object: tag plain_text (shown as is) or lark_md.
type Text struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

// Element is one card element: a div (text or fields), an action (button)
// or a note.
type Element struct {
	Tag      string   `json:"tag"`
	Text     *Text    `json:"text,omitempty"`
	Fields   []Field  `json:"fields,omitempty"`
	Actions  []Button `json:"actions,omitempty"`
	Elements []Text   `json:"elements,omitempty"`
}

// Field is one of a div's fields; short ones sit two to a row.
type Field struct {
	IsShort bool `json:"is_short"`
	Text    Text `json:"text"`
}

// Button opens a URL.
type Button struct {
	Tag  string `json:"tag"`
	Text Text   `json:"text"`
	Type string `json:"type"`
	URL  string `json:"url"`
}

// headerColours are the header templates, by severity.
var headerColours = map[string]string{"critical": "red", "warning": "orange", "info": "blue"}

// mdEscaper neutralises what lark_md acts on: tags (<at id=…> mentions,
// <font>), links [x](y), emphasis and code, HTML entities, and the scheme
// of a bare URL that clients would link. The replacements are full-width
// look-alikes, so the text reads the same.
var mdEscaper = strings.NewReplacer(
	"<", "＜", ">", "＞", "[", "［", "]", "］", "*", "＊", "~", "～", "`", "｀", "&", "＆", "://", "：//",
)

// MD makes s inert in lark_md.
func MD(s string) string { return mdEscaper.Replace(s) }

// Plain makes s inert in plain_text, which Feishu shows as is but whose
// URLs clients still link.
func Plain(s string) string { return strings.ReplaceAll(s, "://", "：//") }

// Message renders p for this bot, unsigned, within MaxBody.
func (f *Notifier) Message(p *page.Page) *Message {
	c := content{headline: p.Headline, info: p.ErrorInfo, excerpt: p.Excerpt, body: p.CustomBody.Text}
	for _, fl := range p.Fields {
		c.fields = append(c.fields, fl.Value)
	}
	m := &Message{MsgType: "interactive"}
	const limit = MaxBody - 128 // room for timestamp and sign
	for range 32 {              // each round cuts the longest text
		m.Card = f.card(p, &c)
		b, _ := marshal(m)
		if len(b) <= limit || !c.shrink(len(b)-limit) {
			break
		}
	}
	return m
}

// content is the page's texts that can be cut to fit.
type content struct {
	headline, info, excerpt, body string
	fields                        []string
}

// shrink cuts the longest text so that the body loses about over bytes;
// false when nothing is left to cut. Escaping and JSON make a text cost
// more than its length, so the cut is scaled by what it costs.
func (c *content) shrink(over int) bool {
	texts := []*string{&c.body, &c.excerpt, &c.info, &c.headline}
	for i := range c.fields {
		texts = append(texts, &c.fields[i])
	}
	longest := texts[0]
	for _, t := range texts[1:] {
		if len(*t) > len(*longest) {
			longest = t
		}
	}
	s := *longest
	if len(s) <= len(Truncated) {
		return false
	}
	cost, _ := json.Marshal(MD(s))
	cut := over*len(s)/len(cost) + len(Truncated) + 1
	*longest = escape.TruncateBytes(s, max(len(Truncated), len(s)-cut), Truncated)
	return true
}

// card lays the page out: header, headline, fields, excerpt (or the rule's
// body), the configured mentions, a button to imalert, the footer.
func (f *Notifier) card(p *page.Page, c *content) Card {
	title := p.Title
	if p.CustomTitle.Text != "" {
		title = p.CustomTitle.Text
	}
	card := Card{
		Config: CardConfig{WideScreenMode: true},
		Header: Header{Template: headerColours[p.Severity], Title: Text{"plain_text", Plain(escape.Clean(title, page.MaxField))}},
	}
	div := func(md string) Element { return Element{Tag: "div", Text: &Text{"lark_md", md}} }
	if c.body != "" {
		card.Elements = append(card.Elements, div(MD(strings.TrimRight(c.body, "\n"))))
	} else {
		head := "**" + MD(c.headline) + "**"
		if c.info != "" {
			head += "\n" + MD(c.info)
		}
		card.Elements = append(card.Elements, div(head))
		var fields []Field
		for i, fl := range p.Fields {
			fields = append(fields, Field{IsShort: !strings.Contains(c.fields[i], "\n"), Text: Text{"lark_md", "**" + fl.Label + "**\n" + MD(c.fields[i])}})
		}
		if len(fields) > 0 {
			card.Elements = append(card.Elements, Element{Tag: "div", Fields: fields})
		}
		if c.excerpt != "" {
			card.Elements = append(card.Elements, div("**Message**\n"+MD(c.excerpt)))
		}
	}
	if m := f.mentions(); m != "" {
		card.Elements = append(card.Elements, div(m))
	}
	if link := cmp.Or(p.Link, f.external); link != "" {
		buttons := []Button{{Tag: "button", Text: Text{"plain_text", "Open imalert"}, Type: "primary", URL: link}}
		if p.MuteLink != "" {
			buttons = append(buttons, Button{Tag: "button", Text: Text{"plain_text", "Mute 1 h"}, Type: "default", URL: p.MuteLink})
		}
		card.Elements = append(card.Elements, Element{Tag: "action", Actions: buttons})
	}
	if len(p.Footer) > 0 {
		card.Elements = append(card.Elements, Element{Tag: "note", Elements: []Text{{"plain_text", Plain(strings.Join(p.Footer, " · "))}}})
	}
	return card
}

// mentions are the configured <at> tags, the only live ones.
func (f *Notifier) mentions() string {
	var tags []string
	for _, u := range f.users { // config-validated ids: letters, digits, _.@-
		tags = append(tags, "<at id="+u+"></at>")
	}
	if f.all {
		tags = append(tags, "<at id=all></at>")
	}
	return strings.Join(tags, " ")
}

// marshal encodes m without HTML escaping, so the size measured is the
// size sent.
func marshal(m *Message) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Notify implements notify.Notifier with one POST, signed when the bot has
// a secret. The timestamp is taken now, for this request only: Feishu
// refuses one more than an hour off.
func (f *Notifier) Notify(ctx context.Context, n *notify.Notification) error {
	m := f.Message(page.Build(n))
	if f.secret != nil {
		m.Timestamp = strconv.FormatInt(f.now().Unix(), 10)
		m.Sign = Sign(f.secret, m.Timestamp)
	}
	body, err := marshal(m)
	if err != nil {
		return notify.Permanent("payload", fmt.Errorf("feishu: payload: %w", err))
	}
	status, answer, err := botpost.Post(ctx, f.client, "feishu", f.url, body)
	if err != nil {
		return err
	}
	return classify(status, answer)
}

// answer is the bot's reply; older bots answer StatusCode and
// StatusMessage.
type answer struct {
	Code          *int   `json:"code"`
	Msg           string `json:"msg"`
	StatusCode    *int   `json:"StatusCode"`
	StatusMessage string `json:"StatusMessage"`
}

// classify reads an answer, which Feishu sends with HTTP 200 or 400: code
// 0 is delivered; 11232 (throttled) is retried after a minute; 19021
// (signature) and other codes are final, unless the HTTP status is 5xx.
// Without a code, HTTP 408, 429 and 5xx are retried and other non-2xx
// statuses are final.
func classify(status int, body []byte) error {
	var a answer
	_ = json.Unmarshal(body, &a)
	if a.Code == nil {
		a.Code, a.Msg = a.StatusCode, a.StatusMessage
	}
	if a.Code == nil {
		if err := botpost.StatusError("feishu", status); err != nil {
			return err
		}
		return notify.Retryable("bad_answer", errors.New("feishu: the answer is not the bot's JSON"))
	}
	code := *a.Code
	if code == codeOK {
		return nil
	}
	reason := "code_other" // a metric label: only known codes get their own
	if knownCodes[code] {
		reason = "code_" + strconv.Itoa(code)
	}
	e := fmt.Errorf("feishu: code %d: %s", code, escape.Clean(a.Msg, 200))
	switch {
	case code == codeThrottled:
		return &notify.DeliveryError{Retryable: true, Reason: reason, RetryAfter: throttledWait, Err: e}
	case code == codeSignature:
		return notify.Permanent(reason, fmt.Errorf("%w (check secret against the bot's signature setting, and this host's clock)", e))
	case status >= 500:
		return notify.Retryable(reason, e)
	}
	return notify.Permanent(reason, e)
}
