package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Secret is a value that must never be printed: tokens, passwords, webhook
// URLs. Every way of formatting or marshalling it yields "<secret>"; only
// Reveal returns the value, and only the code that uses it calls Reveal.
type Secret string

const redacted = "<secret>"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string { return s.redact() }

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.redact() + `")` }

// Format keeps every fmt verb, %x and %q included, from printing the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.redact())) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redact()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.redact()) }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redact()), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.redact(), nil }

func (s Secret) redact() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Redactor removes known secret values from text, such as error messages
// that quote a URL. It is safe for concurrent use; Add teaches it the
// secrets of a reloaded config.
type Redactor struct {
	mu      sync.Mutex // serialises Add
	secrets atomic.Pointer[[]string]
}

// NewRedactor returns a Redactor for the given secrets. For URL secrets it
// also redacts the URL's path and query on their own, since HTTP client
// errors quote URLs in pieces.
func NewRedactor(secrets ...Secret) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add makes r redact secrets too. Secrets are never forgotten: text about
// an old value (an attempt in flight when a reload replaced it) stays
// redacted.
func (r *Redactor) Add(secrets ...Secret) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var have []string
	if p := r.secrets.Load(); p != nil {
		have = *p
	}
	next := slices.Clone(have)
	for _, s := range secrets {
		v := s.Reveal()
		if len(v) < 4 {
			continue // too short to redact without mangling ordinary text
		}
		next = append(next, v)
		if u, err := url.Parse(v); err == nil && u.Host != "" {
			if p := u.EscapedPath(); len(p) > 4 {
				next = append(next, p)
			}
			if len(u.RawQuery) > 4 {
				next = append(next, u.RawQuery)
			}
		}
	}
	// Longest first, so that a secret containing another is replaced whole.
	slices.SortStableFunc(next, func(a, b string) int { return len(b) - len(a) })
	next = slices.Compact(next)
	r.secrets.Store(&next)
}

// Redact replaces every known secret in s with "<secret>".
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	p := r.secrets.Load()
	if p == nil {
		return s
	}
	for _, v := range *p {
		s = strings.ReplaceAll(s, v, redacted)
	}
	return s
}
