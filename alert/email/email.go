// Package email delivers notifications by SMTP as multipart/alternative
// mail: a plain-text part that reads well in a terminal and an HTML part
// with the same fields in a table.
package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net"
	"strings"

	mail "github.com/wneessen/go-mail"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/config"
)

// Notifier sends pages through one SMTP relay.
type Notifier struct {
	cfg  *config.EmailReceiver
	opts []mail.Option
}

// New returns a Notifier for cfg.
func New(cfg *config.EmailReceiver) *Notifier {
	opts := []mail.Option{
		mail.WithPort(cfg.SMTPPort),
		mail.WithTimeout(cfg.Timeout.D()),
	}
	switch cfg.TLS {
	case config.TLSImplicit:
		opts = append(opts, mail.WithSSL())
	case config.TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if cfg.RootCAs != nil && cfg.TLS != config.TLSNone {
		opts = append(opts, mail.WithTLSConfig(&tls.Config{ServerName: cfg.SMTPHost, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}))
	}
	if cfg.Username != "" {
		auth := mail.SMTPAuthPlain
		if cfg.TLS == config.TLSNone {
			// The operator chose plaintext SMTP; go-mail refuses PLAIN
			// over it unless told so explicitly.
			auth = mail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password.Reveal()))
	}
	return &Notifier{cfg: cfg, opts: opts}
}

// Notify implements notify.Notifier with one attempt: one SMTP session per
// page.
func (e *Notifier) Notify(ctx context.Context, n *notify.Notification) error {
	m, err := Message(e.cfg, n)
	if err != nil {
		return notify.Permanent("message", err)
	}
	c, err := mail.NewClient(e.cfg.SMTPHost, e.opts...)
	if err != nil {
		return notify.Permanent("config", fmt.Errorf("email: %w", err))
	}
	return classify(c.DialAndSendWithContext(ctx, m))
}

// Message builds the mail for n.
func Message(cfg *config.EmailReceiver, n *notify.Notification) (*mail.Msg, error) {
	p := page.Build(n)
	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := m.From(cfg.From); err != nil {
		return nil, fmt.Errorf("email: from: %w", err)
	}
	if err := m.To(cfg.To...); err != nil {
		return nil, fmt.Errorf("email: to: %w", err)
	}
	// page.Build cleaned every payload value of CR/LF, so the subject is one
	// line; go-mail also MIME-encodes it.
	m.Subject(p.Subject)
	domain := "imalert"
	if _, d, ok := strings.Cut(cfg.From, "@"); ok {
		domain = strings.Trim(d, "> ")
	}
	m.SetMessageIDWithValue(n.ID + "@" + domain)
	// Pages about the same rule and group key thread together.
	thread := "<" + incident(n) + "@" + domain + ">"
	m.SetGenHeader(mail.HeaderReferences, thread)
	m.SetGenHeader(mail.HeaderInReplyTo, thread)
	m.SetBulk()
	m.SetBodyString(mail.TypeTextPlain, page.Render(p))
	var html bytes.Buffer
	// The rule's templates were rendered for HTML already: every value in
	// them is escaped, and so is the template's own text.
	data := struct {
		*page.Page
		TitleHTML, BodyHTML template.HTML
	}{p, template.HTML(p.CustomTitle.HTML), template.HTML(p.CustomBody.HTML)}
	if err := htmlTemplate.Execute(&html, data); err != nil {
		return nil, fmt.Errorf("email: render: %w", err)
	}
	m.AddAlternativeString(mail.TypeTextHTML, html.String())
	return m, nil
}

func incident(n *notify.Notification) string {
	h := sha256.Sum256([]byte(n.Rule + "\x00" + n.GroupKey))
	return "incident-" + hex.EncodeToString(h[:12])
}

// htmlTemplate escapes every value (html/template), loads nothing remote
// and styles inline, as mail clients require.
var htmlTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family:sans-serif;font-size:14px;color:#1d1c1d">
<div style="border-left:6px solid {{if eq .Severity "critical"}}#E01E5A{{else if eq .Severity "warning"}}#ECB22E{{else}}#36C5F0{{end}};padding:4px 12px">
<h2 style="margin:4px 0">{{.Title}}</h2>
{{if .TitleHTML}}<p style="margin:4px 0"><b>{{.TitleHTML}}</b></p>
{{end}}{{if .BodyHTML}}<div style="margin:4px 0;white-space:pre-wrap">{{.BodyHTML}}</div>
{{else}}<p style="margin:4px 0"><b>{{.Headline}}</b>{{if .ErrorInfo}}<br>{{.ErrorInfo}}{{end}}</p>
<table style="border-collapse:collapse">
{{range .Fields}}<tr><td style="padding:2px 12px 2px 0;color:#616061">{{.Label}}</td><td style="padding:2px 0;white-space:pre-line">{{.Value}}</td></tr>
{{end}}</table>
{{if .Excerpt}}<blockquote style="margin:8px 0;padding:4px 8px;border-left:3px solid #ddd;color:#444">{{.Excerpt}}</blockquote>{{end}}
{{end}}{{if .Link}}<p style="margin:8px 0 4px"><a href="{{.Link}}">Open in imalert</a>{{if .MuteLink}} · <a href="{{.MuteLink}}">Mute 1 h</a>{{end}}</p>
{{end}}{{range .Footer}}<p style="margin:2px 0;color:#616061;font-size:12px">{{.}}</p>
{{end}}</div>
</body></html>
`))

// classify turns a go-mail error into an notify.DeliveryError: SMTP 4xx and
// connection problems are retried, 5xx rejections are not.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se *mail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		reason := "smtp"
		if code > 0 {
			reason = fmt.Sprintf("smtp_%d", code)
		}
		e := fmt.Errorf("email: %w", err)
		if se.IsTemp() || code == 0 {
			return notify.Retryable(reason, e)
		}
		return notify.Permanent(reason, e)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return notify.Retryable("timeout", fmt.Errorf("email: %w", err))
	}
	return notify.Retryable("dial", fmt.Errorf("email: %w", err))
}
