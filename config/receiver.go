package config

import (
	"crypto/x509"
	"errors"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/yamlfile"
)

// Receiver types.
const (
	TypeConsole  = "console"
	TypeSlack    = "slack"
	TypeEmail    = "email"
	TypeWebhook  = "webhook"
	TypeWeCom    = "wecom"
	TypeDingTalk = "dingtalk"
	TypeFeishu   = "feishu"
)

// Receiver is a named destination for pages. Exactly one of the typed
// configs is set, matching Type.
type Receiver struct {
	Name    string
	Type    string
	Console *ConsoleReceiver
	Slack   *SlackReceiver
	Email   *EmailReceiver
	Webhook *WebhookReceiver
	// WeCom, DingTalk and Feishu are the chat-bot receivers.
	WeCom    *WeComReceiver
	DingTalk *DingTalkReceiver
	Feishu   *FeishuReceiver
	// Retry and Pace are the receiver's delivery policy, defaults applied.
	Retry Retry
	Pace  time.Duration
	// Budget bounds the pages sent per period; zero Pages: none.
	Budget Budget
	// Line is where the receiver is defined, for messages about it.
	Line int
}

// ConsoleReceiver prints pages to standard output.
type ConsoleReceiver struct{}

// SlackReceiver posts pages to Slack, through an incoming webhook or the
// Web API (chat.postMessage) with a bot token.
type SlackReceiver struct {
	WebhookURL     Secret            `yaml:"webhook_url"`
	WebhookURLFile string            `yaml:"webhook_url_file"`
	Token          Secret            `yaml:"token"`
	TokenFile      string            `yaml:"token_file"`
	Channel        string            `yaml:"channel"`
	APIURL         string            `yaml:"api_url"` // Web API base URL, for Slack-compatible servers
	Timeout        yamlfile.Duration `yaml:"timeout"`
	// Mention holds the only live mentions a page may carry, written in
	// Slack's syntax (<!here>, <!subteam^S0123>, <@U0123>); everything
	// from a payload is escaped.
	Mention []string `yaml:"mention"`
	// Repeats is what a repeat of an open incident does with a token:
	// RepeatsNew, RepeatsThread or RepeatsUpdate.
	Repeats     string            `yaml:"repeats"`
	IncidentTTL yamlfile.Duration `yaml:"incident_ttl"`
}

// TLS modes of an email receiver.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "none"
)

// EmailReceiver sends pages by SMTP.
type EmailReceiver struct {
	SMTPHost string `yaml:"smtp_host"`
	SMTPPort int    `yaml:"smtp_port"`
	TLS      string `yaml:"tls"`
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// PasswordFile names a file holding the password, instead of password.
	PasswordFile string            `yaml:"password_file"`
	From         string            `yaml:"from"`
	To           []string          `yaml:"to"`
	Timeout      yamlfile.Duration `yaml:"timeout"`
	// CAFile is a PEM bundle of CAs to trust for the relay's certificate,
	// instead of the system roots; relative to the config file.
	CAFile string `yaml:"ca_file"`

	// RootCAs is CAFile, loaded; nil means the system roots.
	RootCAs *x509.CertPool `yaml:"-"`
}

const receiverTypes = "console, slack, email, webhook, wecom, dingtalk or feishu"

var receiverName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// slackMention matches the mention forms Slack documents: special mentions,
// a user, a user group; an optional |label as Slack allows.
var slackMention = regexp.MustCompile(`^<(?:!here|!channel|!everyone|@[UW][A-Z0-9]{2,30}|!subteam\^S[A-Z0-9]{2,30})(?:\|[^<>&|]{1,80})?>$`)

const defaultReceiverTimeout = yamlfile.Duration(10 * time.Second)

func decodeReceiver(doc *yamlfile.Doc, n *yaml.Node) (Receiver, yamlfile.Errors) {
	var head receiverHeadFields
	_, typeNode := yamlfile.Lookup(n, "type")
	if n.Kind != yaml.MappingNode {
		return Receiver{}, yamlfile.Errors{doc.Errorf(n, "receivers: each receiver must be a mapping with name and type")}
	}
	_ = n.Decode(&head) // type errors are reported by the full decode below
	r := Receiver{Name: head.Name, Type: head.Type, Line: n.Line}
	var errs yamlfile.Errors
	if !receiverName.MatchString(head.Name) {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "name"), "receivers: name must be 1-64 letters, digits, '.', '_' or '-', got %q", head.Name))
	}
	switch head.Type {
	case TypeConsole:
		var w struct {
			receiverHeadFields `yaml:",inline"`
			ConsoleReceiver    `yaml:",inline"`
		}
		errs = append(errs, doc.Decode(n, &w)...)
		r.Console = &w.ConsoleReceiver
	case TypeSlack:
		w := struct {
			receiverHeadFields `yaml:",inline"`
			SlackReceiver      `yaml:",inline"`
		}{SlackReceiver: SlackReceiver{Timeout: defaultReceiverTimeout, Repeats: RepeatsNew, IncidentTTL: yamlfile.Duration(DefaultIncidentTTL)}}
		errs = append(errs, doc.Decode(n, &w)...)
		r.Slack = &w.SlackReceiver
		errs = append(errs, r.Slack.validate(doc, n, head.Name)...)
		errs = append(errs, r.Slack.validateRepeats(doc, n, head.Name)...)
	case TypeEmail:
		w := struct {
			receiverHeadFields `yaml:",inline"`
			EmailReceiver      `yaml:",inline"`
		}{EmailReceiver: EmailReceiver{TLS: TLSStartTLS, Timeout: defaultReceiverTimeout}}
		errs = append(errs, doc.Decode(n, &w)...)
		r.Email = &w.EmailReceiver
		errs = append(errs, r.Email.validate(doc, n, head.Name)...)
	case TypeWebhook:
		w := struct {
			receiverHeadFields `yaml:",inline"`
			WebhookReceiver    `yaml:",inline"`
		}{WebhookReceiver: WebhookReceiver{Timeout: defaultReceiverTimeout}}
		errs = append(errs, doc.Decode(n, &w)...)
		r.Webhook = &w.WebhookReceiver
		errs = append(errs, r.Webhook.validate(doc, n, head.Name)...)
	case TypeWeCom, TypeDingTalk, TypeFeishu:
		errs = append(errs, decodeBot(doc, n, &r)...)
	case "":
		errs = append(errs, doc.Errorf(n, "receiver %q: type is required (%s)", head.Name, receiverTypes))
	default:
		errs = append(errs, doc.Errorf(typeNode, "receiver %q: unknown type %q (want %s)", head.Name, head.Type, receiverTypes))
	}
	defaultPace := time.Duration(0)
	if head.Type == TypeSlack {
		defaultPace = DefaultSlackPace
	} else if p, ok := botPace(head.Type); ok {
		defaultPace = p
	}
	var derrs yamlfile.Errors
	r.Retry, r.Pace, derrs = head.deliveryFields.resolve(doc, n, head.Name, defaultPace)
	errs = append(errs, derrs...)
	r.Budget, derrs = head.deliveryFields.resolveBudget(doc, n, head.Name, head.Type)
	errs = append(errs, derrs...)
	return r, errs
}

// receiverHeadFields are the keys every receiver type shares.
type receiverHeadFields struct {
	Name           string `yaml:"name"`
	Type           string `yaml:"type"`
	deliveryFields `yaml:",inline"`
}

func (s *SlackReceiver) validate(doc *yamlfile.Doc, n *yaml.Node, name string) yamlfile.Errors {
	var errs yamlfile.Errors
	what := "receiver " + quote(name)
	dir := configDir(doc.File)
	errs = append(errs, resolveSecret(doc, n, "webhook_url", &s.WebhookURL, s.WebhookURLFile, dir, what)...)
	errs = append(errs, resolveSecret(doc, n, "token", &s.Token, s.TokenFile, dir, what)...)
	fromFile := len(errs) > 0 // a file problem is already reported
	_, hookNode := yamlfile.Lookup(n, "webhook_url")
	if hookNode == nil {
		_, hookNode = yamlfile.Lookup(n, "webhook_url_file")
	}
	_, tokenNode := yamlfile.Lookup(n, "token")
	if tokenNode == nil {
		_, tokenNode = yamlfile.Lookup(n, "token_file")
	}
	_, mentionNode := yamlfile.Lookup(n, "mention")
	for i, m := range s.Mention {
		if !slackMention.MatchString(m) {
			errs = append(errs, doc.Errorf(item(mentionNode, i), "receiver %q: mention: %s is not a Slack mention (want <!here>, <!channel>, <!everyone>, <@U…> or <!subteam^S…>)", name, doc.Show(item(mentionNode, i), m)))
		}
	}
	switch {
	case fromFile:
	case hookNode != nil && tokenNode != nil:
		errs = append(errs, doc.Errorf(n, "receiver %q: set webhook_url or token, not both", name))
	case hookNode == nil && tokenNode == nil:
		errs = append(errs, doc.Errorf(n, "receiver %q: set webhook_url, or token and channel", name))
	case hookNode != nil:
		if !s.WebhookURL.IsSet() {
			errs = append(errs, doc.EmptyError(hookNode, "receiver "+quote(name)+": webhook_url"))
		} else if !isHTTPURL(s.WebhookURL.Reveal()) {
			errs = append(errs, doc.Errorf(hookNode, "receiver %q: webhook_url must be an http:// or https:// URL", name))
		}
		if s.Channel != "" {
			errs = append(errs, doc.Errorf(yamlfile.At(n, "channel"), "receiver %q: channel is set by the webhook itself; remove channel or use token", name))
		}
	default:
		if !s.Token.IsSet() {
			errs = append(errs, doc.EmptyError(tokenNode, "receiver "+quote(name)+": token"))
		}
		if s.Channel == "" {
			errs = append(errs, doc.Errorf(n, "receiver %q: channel is required with token", name))
		}
	}
	if s.APIURL != "" {
		if !isHTTPURL(s.APIURL) {
			errs = append(errs, doc.Errorf(yamlfile.At(n, "api_url"), "receiver %q: api_url must be an http:// or https:// URL", name))
		} else if !strings.HasSuffix(s.APIURL, "/") {
			s.APIURL += "/"
		}
	}
	if s.Timeout <= 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "timeout"), "receiver %q: timeout must be positive", name))
	}
	return errs
}

func (e *EmailReceiver) validate(doc *yamlfile.Doc, n *yaml.Node, name string) yamlfile.Errors {
	var errs yamlfile.Errors
	if e.SMTPHost == "" {
		errs = append(errs, doc.EmptyError(yamlfile.At(n, "smtp_host"), "receiver "+quote(name)+": smtp_host"))
	}
	switch e.TLS {
	case TLSStartTLS, TLSNone:
		if e.SMTPPort == 0 {
			e.SMTPPort = 587
			if e.TLS == TLSNone {
				e.SMTPPort = 25
			}
		}
	case TLSImplicit:
		if e.SMTPPort == 0 {
			e.SMTPPort = 465
		}
	default:
		errs = append(errs, doc.Errorf(yamlfile.At(n, "tls"), "receiver %q: tls: want starttls, tls or none, got %q", name, e.TLS))
	}
	if e.SMTPPort < 0 || e.SMTPPort > 65535 {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "smtp_port"), "receiver %q: smtp_port must be between 1 and 65535", name))
	}
	pwErrs := resolveSecret(doc, n, "password", &e.Password, e.PasswordFile, configDir(doc.File), "receiver "+quote(name))
	errs = append(errs, pwErrs...)
	if e.Password.IsSet() && e.Username == "" {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "password"), "receiver %q: password needs username", name))
	}
	if _, pw := yamlfile.Lookup(n, "password"); pw != nil && !e.Password.IsSet() && e.Username != "" {
		errs = append(errs, doc.EmptyError(pw, "receiver "+quote(name)+": password"))
	}
	if e.From == "" {
		errs = append(errs, doc.EmptyError(yamlfile.At(n, "from"), "receiver "+quote(name)+": from"))
	} else if !validAddress(e.From) {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "from"), "receiver %q: from: not a valid email address", name))
	}
	_, toNode := yamlfile.Lookup(n, "to")
	if len(e.To) == 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "to"), "receiver %q: to needs at least one address", name))
	}
	for i, a := range e.To {
		if !validAddress(a) {
			at := toNode
			if toNode != nil && i < len(toNode.Content) {
				at = toNode.Content[i]
			}
			errs = append(errs, doc.Errorf(at, "receiver %q: to: %s is not a valid email address", name, doc.Show(at, a)))
		}
	}
	if e.Timeout <= 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "timeout"), "receiver %q: timeout must be positive", name))
	}
	if e.CAFile != "" {
		if e.TLS == TLSNone {
			errs = append(errs, doc.Errorf(yamlfile.At(n, "ca_file"), "receiver %q: ca_file needs tls: starttls or tls", name))
		}
		path := e.CAFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(doc.File), path)
		}
		pool := x509.NewCertPool()
		data, err := os.ReadFile(path)
		switch {
		case err != nil:
			errs = append(errs, doc.Errorf(yamlfile.At(n, "ca_file"), "receiver %q: ca_file: %v", name, errors.Unwrap(err)))
		case !pool.AppendCertsFromPEM(data):
			errs = append(errs, doc.Errorf(yamlfile.At(n, "ca_file"), "receiver %q: ca_file: no PEM certificate in %s", name, path))
		default:
			e.CAFile, e.RootCAs = path, pool
		}
	}
	return errs
}

func (r Receiver) secrets() []Secret {
	switch {
	case r.Slack != nil:
		return []Secret{r.Slack.WebhookURL, r.Slack.Token}
	case r.Email != nil:
		return []Secret{r.Email.Password}
	case r.Webhook != nil:
		return append([]Secret{r.Webhook.URL, r.Webhook.Secret}, r.Webhook.headerSecrets()...)
	case r.WeCom != nil:
		return []Secret{r.WeCom.WebhookURL}
	case r.DingTalk != nil:
		return []Secret{r.DingTalk.WebhookURL, r.DingTalk.Secret}
	case r.Feishu != nil:
		return []Secret{r.Feishu.WebhookURL, r.Feishu.Secret}
	}
	return nil
}

func validAddress(a string) bool {
	if strings.ContainsAny(a, "\r\n") {
		return false
	}
	_, err := mail.ParseAddress(a)
	return err == nil
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func quote(s string) string { return `"` + s + `"` }
