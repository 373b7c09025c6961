// Package slack delivers notifications to Slack through an incoming webhook
// or the Web API (chat.postMessage with a bot token), as a Block Kit message
// inside a severity-coloured attachment.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/config"
)

// Notifier posts pages to one Slack destination.
type Notifier struct {
	webhookURL string
	api        *slack.Client
	channel    string
	client     *http.Client
	mention    string // the receiver's configured mentions, the only live ones
	repeats    string // config.Repeats*: what a repeat of an open incident does
}

// New returns a Notifier for cfg. client must carry a timeout; slack-go's
// default client has none.
func New(cfg *config.SlackReceiver, client *http.Client) *Notifier {
	n := &Notifier{client: client, channel: cfg.Channel, mention: Mentions(cfg.Mention), repeats: cfg.Repeats}
	if cfg.WebhookURL.IsSet() {
		n.webhookURL = cfg.WebhookURL.Reveal()
		return n
	}
	opts := []slack.Option{slack.OptionHTTPClient(client)}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(cfg.APIURL))
	}
	n.api = slack.New(cfg.Token.Reveal(), opts...)
	return n
}

// Notify implements notify.Notifier with one attempt.
func (s *Notifier) Notify(ctx context.Context, n *notify.Notification) error {
	if s.webhookURL != "" {
		text, att := s.message(n)
		// parse=none: Slack links nothing it was not given as <…>, and
		// every <…> from a payload is escaped.
		msg := &slack.WebhookMessage{Text: text, Attachments: []slack.Attachment{att}, Parse: "none"}
		return classify("webhook", slack.PostWebhookCustomHTTPContext(ctx, s.webhookURL, s.client, msg))
	}
	_, _, err := s.api.PostMessageContext(ctx, s.channel, s.apiOptions(n)...)
	return classify("chat.postMessage", err)
}

// message is n rendered for this receiver: its configured mentions, the
// only live ones, lead the text.
func (s *Notifier) message(n *notify.Notification) (string, slack.Attachment) {
	text, att := Message(page.Build(n))
	return s.mention + text, att
}

// apiOptions is n as a Web API message (new, reply or update alike).
func (s *Notifier) apiOptions(n *notify.Notification) []slack.MsgOption {
	text, att := s.message(n)
	return []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionAttachments(att), slack.MsgOptionParse(false)}
}

// Colours of the attachment bar, by severity.
var colours = map[string]string{
	"critical": "#E01E5A",
	"warning":  "#ECB22E",
	"info":     "#36C5F0",
}

// Slack's limits: 3000 characters per section text, 2000 per field, 10
// fields per section, 150 in a header, 50 blocks per message.
const (
	maxSectionText = 3000
	maxFieldText   = 2000
	maxFields      = 10
	maxHeader      = 150
	maxBlocks      = 50
)

// Mentions renders configured mentions (validated at config load as
// <!here>, <!subteam^S…>, <@U…>) as the prefix of a message's text.
func Mentions(m []string) string {
	if len(m) == 0 {
		return ""
	}
	return strings.Join(m, " ") + " "
}

// Message renders p as the top-level text (the notification preview) and a
// coloured attachment of blocks. Every payload-derived string is escaped
// (&, <, >) so it cannot mention anyone or hide a link.
func Message(p *page.Page) (string, slack.Attachment) {
	text := page.Slack(p.Preview)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, page.Truncate(page.Slack(p.Title), maxHeader), true, false)),
	}
	head := "*" + page.Slack(p.Headline) + "*"
	if p.ErrorInfo != "" {
		head += "\n" + page.Slack(p.ErrorInfo)
	}
	blocks = append(blocks, section(head))
	var fields []*slack.TextBlockObject
	for _, f := range p.Fields {
		if len(fields) == maxFields {
			break
		}
		fields = append(fields, slack.NewTextBlockObject(slack.MarkdownType,
			page.Truncate("*"+f.Label+"*\n"+page.Slack(f.Value), maxFieldText), false, false))
	}
	if len(fields) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	}
	if p.Excerpt != "" {
		blocks = append(blocks, section("> "+page.Slack(p.Excerpt)))
	}
	// A rule's templates replace the preview and the body; they were
	// rendered for Slack, with every value in them escaped.
	if p.CustomTitle.Slack != "" {
		text = p.CustomTitle.Slack
	}
	if p.CustomBody.Slack != "" {
		blocks = append(blocks[:1], section(p.CustomBody.Slack))
	}
	if len(p.Footer) > 0 {
		blocks = append(blocks, slack.NewContextBlock("",
			slack.NewTextBlockObject(slack.MarkdownType, page.Truncate(page.Slack(strings.Join(p.Footer, " · ")), maxSectionText), false, false)))
	}
	if len(blocks) > maxBlocks {
		blocks = blocks[:maxBlocks]
	}
	att := slack.Attachment{
		Color:    colours[p.Severity],
		Fallback: text,
		Blocks:   slack.Blocks{BlockSet: blocks},
	}
	return text, att
}

func section(mrkdwn string) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, page.Truncate(mrkdwn, maxSectionText), false, false), nil, nil)
}

// Web API error codes worth retrying; every other ok:false answer is a
// configuration problem that retrying cannot fix.
var retryableAPIErrors = map[string]bool{
	"internal_error": true, "fatal_error": true, "service_unavailable": true,
	"request_timeout": true, "ratelimited": true, "rate_limited": true,
}

// classify turns a slack-go error into an notify.DeliveryError. Transport
// errors are rebuilt without the request URL, which for a webhook is the
// secret itself.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &notify.DeliveryError{Retryable: true, Reason: "http_429", RetryAfter: rl.RetryAfter, Err: fmt.Errorf("slack: %s: %w", op, err)}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		reason := "http_" + strconv.Itoa(sc.Code)
		e := fmt.Errorf("slack: %s: HTTP %d", op, sc.Code)
		if sc.Code >= 500 || sc.Code == http.StatusTooManyRequests {
			return notify.Retryable(reason, e)
		}
		return notify.Permanent(reason, e)
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		e := fmt.Errorf("slack: %s: %s", op, se.Err)
		if retryableAPIErrors[se.Err] {
			return notify.Retryable("api_"+se.Err, e)
		}
		return notify.Permanent("api_"+se.Err, e)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		reason := "transport"
		if ue.Timeout() {
			reason = "timeout"
		}
		return notify.Retryable(reason, fmt.Errorf("slack: %s: %w", op, ue.Err))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return notify.Retryable("timeout", fmt.Errorf("slack: %s: %w", op, context.DeadlineExceeded))
	}
	var ne *strconv.NumError
	if errors.As(err, &ne) { // unreadable Retry-After on a 429
		return notify.Retryable("http_429", fmt.Errorf("slack: %s: rate limited", op))
	}
	return notify.Retryable("error", fmt.Errorf("slack: %s: %w", op, err))
}
