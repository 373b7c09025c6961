package config

import (
	"net/http"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/yamlfile"
)

// Journal configures the journal of callbacks and the outbox in data_dir.
type Journal struct {
	// Retention is how long processed callbacks and finished notifications
	// are kept (sent, merged, rerouted, dead letters).
	Retention yamlfile.Duration `yaml:"retention"`
	// Sync is "full" (every commit survives power loss) or "normal" (every
	// commit survives a crash of imalert; the last ones may not survive
	// power loss).
	Sync string `yaml:"sync"`
	// WALMaxBytes is the ceiling of the database's write-ahead log on
	// disk: past a quarter of it, checkpoints restart the log.
	WALMaxBytes int64 `yaml:"wal_max_bytes"`
}

var defaultJournal = Journal{Retention: yamlfile.Duration(7 * 24 * time.Hour), Sync: "full", WALMaxBytes: 64 << 20}

func (j Journal) validate(doc *yamlfile.Doc, n *yaml.Node) yamlfile.Errors {
	var errs yamlfile.Errors
	if j.Retention < yamlfile.Duration(time.Hour) {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "retention"), "journal.retention must be at least 1h"))
	}
	if j.Sync != "full" && j.Sync != "normal" {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "sync"), "journal.sync: want full or normal, got %q", j.Sync))
	}
	if j.WALMaxBytes < 4<<20 {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "wal_max_bytes"), "journal.wal_max_bytes must be at least 4194304 (4 MiB)"))
	}
	return errs
}

// RetrySpec is a receiver's retry policy as written.
type RetrySpec struct {
	Initial     yamlfile.Duration `yaml:"initial"`
	Max         yamlfile.Duration `yaml:"max"`
	GiveUpAfter yamlfile.Duration `yaml:"give_up_after"`
}

// Retry is a receiver's retry policy: the first backoff, the backoff cap,
// and how long after its creation a failing notification is given up (dead
// letter).
type Retry struct {
	Initial, Max, GiveUpAfter time.Duration
}

// Delivery defaults of every receiver.
var (
	DefaultRetry = Retry{Initial: time.Second, Max: time.Minute, GiveUpAfter: 24 * time.Hour}
	// DefaultSlackPace keeps to Slack's one message per second per channel.
	DefaultSlackPace = time.Second
	// DefaultIncidentTTL is how long a Slack incident stays open for
	// threaded or updated repeats.
	DefaultIncidentTTL = 24 * time.Hour
)

// deliveryFields are the delivery keys every receiver type takes.
type deliveryFields struct {
	Retry  *RetrySpec         `yaml:"retry"`
	Pace   *yamlfile.Duration `yaml:"pace"`
	Budget *BudgetSpec        `yaml:"budget"`
}

// resolve validates the delivery keys and returns the policy with defaults
// applied.
func (f deliveryFields) resolve(doc *yamlfile.Doc, n *yaml.Node, name string, defaultPace time.Duration) (Retry, time.Duration, yamlfile.Errors) {
	var errs yamlfile.Errors
	r := DefaultRetry
	_, rn := yamlfile.Lookup(n, "retry")
	if s := f.Retry; s != nil {
		for _, v := range []struct {
			key string
			d   yamlfile.Duration
			dst *time.Duration
		}{{"initial", s.Initial, &r.Initial}, {"max", s.Max, &r.Max}, {"give_up_after", s.GiveUpAfter, &r.GiveUpAfter}} {
			if _, vn := yamlfile.Lookup(rn, v.key); vn == nil {
				continue
			}
			if v.d <= 0 {
				errs = append(errs, doc.Errorf(yamlfile.At(rn, v.key), "receiver %q: retry.%s must be positive", name, v.key))
				continue
			}
			*v.dst = v.d.D()
		}
		if _, mn := yamlfile.Lookup(rn, "max"); mn == nil && r.Max < r.Initial {
			r.Max = r.Initial
		}
		if r.Max < r.Initial {
			errs = append(errs, doc.Errorf(yamlfile.At(rn, "max"), "receiver %q: retry.max must be at least retry.initial", name))
		}
		if r.GiveUpAfter < r.Initial {
			errs = append(errs, doc.Errorf(yamlfile.At(rn, "give_up_after"), "receiver %q: retry.give_up_after must be at least retry.initial", name))
		}
	}
	pace := defaultPace
	if f.Pace != nil { // yamlfile.Duration refuses negative values
		pace = f.Pace.D()
	}
	return r, pace, errs
}

// WebhookReceiver POSTs a JSON payload to a URL, optionally signed with
// HMAC-SHA256.
type WebhookReceiver struct {
	URL        Secret            `yaml:"url"`
	URLFile    string            `yaml:"url_file"`
	Secret     Secret            `yaml:"secret"`
	SecretFile string            `yaml:"secret_file"`
	Timeout    yamlfile.Duration `yaml:"timeout"`
	// BodyTemplate, when set, replaces the documented payload: a Go
	// text/template over it that must produce JSON.
	BodyTemplate string `yaml:"body_template"`
	// BodyTemplateLine is the line of the config file where the
	// template's text starts, for errors about it.
	BodyTemplateLine int `yaml:"-"`
	// Headers are added to every request; their values may hold
	// credentials (Authorization), so they are secrets.
	Headers map[string]Secret `yaml:"headers"`
}

// headerName is an HTTP field name (RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// reservedHeaders are set by imalert or by the HTTP client itself.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"X-Imalert-Id": true, "X-Imalert-Timestamp": true, "X-Imalert-Signature": true,
}

func (w *WebhookReceiver) headerSecrets() []Secret {
	out := make([]Secret, 0, len(w.Headers))
	for _, v := range w.Headers {
		out = append(out, v)
	}
	return out
}

// validateTemplateFields checks headers and notes where body_template
// starts; the template itself is compiled and rendered by the webhook
// receiver's check, which knows its data.
func (w *WebhookReceiver) validateTemplateFields(doc *yamlfile.Doc, n *yaml.Node, name string) yamlfile.Errors {
	var errs yamlfile.Errors
	if _, tn := yamlfile.Lookup(n, "body_template"); tn != nil {
		w.BodyTemplateLine = tn.Line
		if tn.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			w.BodyTemplateLine++ // a block scalar's text starts below its key
		}
		if strings.TrimSpace(w.BodyTemplate) == "" {
			errs = append(errs, doc.EmptyError(tn, "receiver "+quote(name)+": body_template"))
		}
	}
	_, hn := yamlfile.Lookup(n, "headers")
	for k, v := range w.Headers {
		kn, _ := yamlfile.Lookup(hn, k)
		switch {
		case !headerName.MatchString(k):
			errs = append(errs, doc.Errorf(kn, "receiver %q: headers: %q is not a valid header name", name, k))
		case reservedHeaders[http.CanonicalHeaderKey(k)]:
			errs = append(errs, doc.Errorf(kn, "receiver %q: headers: %s is set by imalert", name, http.CanonicalHeaderKey(k)))
		case strings.ContainsAny(v.Reveal(), "\r\n\x00"):
			errs = append(errs, doc.Errorf(kn, "receiver %q: headers: the value of %s holds a line break", name, k))
		}
	}
	return errs
}

func (w *WebhookReceiver) validate(doc *yamlfile.Doc, n *yaml.Node, name string) yamlfile.Errors {
	dir := configDir(doc.File)
	what := "receiver " + quote(name)
	errs := resolveSecret(doc, n, "url", &w.URL, w.URLFile, dir, what)
	errs = append(errs, resolveSecret(doc, n, "secret", &w.Secret, w.SecretFile, dir, what)...)
	if len(errs) > 0 {
		return errs // a file problem, already reported
	}
	_, un := yamlfile.Lookup(n, "url")
	if un == nil {
		_, un = yamlfile.Lookup(n, "url_file")
	}
	switch {
	case un == nil:
		errs = append(errs, doc.Errorf(n, "receiver %q: url is required", name))
	case !w.URL.IsSet():
		errs = append(errs, doc.EmptyError(un, "receiver "+quote(name)+": url"))
	case !isHTTPURL(w.URL.Reveal()):
		errs = append(errs, doc.Errorf(un, "receiver %q: url must be an http:// or https:// URL", name))
	}
	if _, sn := yamlfile.Lookup(n, "secret"); sn != nil && !w.Secret.IsSet() && w.SecretFile == "" {
		errs = append(errs, doc.EmptyError(sn, "receiver "+quote(name)+": secret"))
	}
	if w.Timeout <= 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "timeout"), "receiver %q: timeout must be positive", name))
	}
	return append(errs, w.validateTemplateFields(doc, n, name)...)
}

// Slack repeat modes: what a repeat of an open incident does.
const (
	RepeatsNew    = "new"    // post a new message
	RepeatsThread = "thread" // reply in the incident's thread
	RepeatsUpdate = "update" // update the incident's message in place
)

func (s *SlackReceiver) validateRepeats(doc *yamlfile.Doc, n *yaml.Node, name string) yamlfile.Errors {
	var errs yamlfile.Errors
	switch s.Repeats {
	case RepeatsNew:
	case RepeatsThread, RepeatsUpdate:
		if !s.Token.IsSet() && s.WebhookURL.IsSet() {
			errs = append(errs, doc.Errorf(yamlfile.At(n, "repeats"), "receiver %q: repeats: %s needs token and channel (a webhook returns no message to reply to)", name, s.Repeats))
		}
	default:
		errs = append(errs, doc.Errorf(yamlfile.At(n, "repeats"), "receiver %q: repeats: want new, thread or update, got %q", name, s.Repeats))
	}
	if s.IncidentTTL <= 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(n, "incident_ttl"), "receiver %q: incident_ttl must be positive", name))
	}
	return errs
}
