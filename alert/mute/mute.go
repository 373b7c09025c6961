// Package mute makes and checks one-tap mute links: signed capabilities
// that let whoever holds a page create one silence, for one rule's group
// key, for an hour, without logging in.
//
// A link's token is the capability (rule, group key, the silence's
// matchers, the event, an expiry) as JSON, a dot, and an HMAC-SHA256 of
// it (cut to 128 bits) under a server key kept in the store, both in
// lowercase base32: letters and digits only, so that no medium's markup
// (Slack or Markdown underscores, say) can break the link. Changing any
// character, or presenting it after its expiry or to another server,
// fails.
package mute

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/imalert/imalert/rules"
)

// Lifetimes and bounds.
const (
	// Valid is how long a link works after the event it was made for.
	Valid = 24 * time.Hour
	// For is how long the silence a link creates lasts.
	For = time.Hour
	// MaxToken bounds a token: longer ones are refused unread, and a page
	// whose token would be longer carries no mute link.
	MaxToken = 2048
	// KeyName is the store's name of the signing key.
	KeyName = "mute-link"
)

// Errors of Verify.
var (
	ErrInvalid = errors.New("mute: invalid link")
	ErrExpired = errors.New("mute: link expired")
)

// enc spells tokens: base32 with a lowercase alphabet, no padding.
var enc = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// macSize is the length of a token's MAC in bytes.
const macSize = 16

// rangeLike is a value the match language reads as a range of numbers
// in a field it does not know (see rules' scalar values).
var rangeLike = regexp.MustCompile(`^\s*-?\d{1,18}\s*-\s*-?\d{1,18}\s*$`)

// Capability is what a mute link allows: creating one silence with
// Matchers, for rule Rule's group key Key.
type Capability struct {
	Rule     string          `json:"r"`
	Key      string          `json:"k"`
	Matchers json.RawMessage `json:"m"`
	Event    int64           `json:"ev,omitempty"`
	Expires  int64           `json:"x"` // Unix seconds

	// ID names the capability (a prefix of its MAC): the silence it
	// creates records it, so that a link creates one silence at most.
	ID string `json:"-"`
}

// ExpiresAt is when the link stops working.
func (c Capability) ExpiresAt() time.Time { return time.Unix(c.Expires, 0).UTC() }

// Signer signs and verifies capabilities with one key.
type Signer struct{ key []byte }

// NewSigner returns a Signer with key (from store.Key(KeyName)).
func NewSigner(key []byte) *Signer { return &Signer{key: key} }

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("imalert mute link\x00"))
	m.Write(payload)
	return m.Sum(nil)[:macSize]
}

// Sign returns c's token.
func (s *Signer) Sign(c Capability) string {
	payload, _ := json.Marshal(c) // plain data: cannot fail
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(payload))
}

// Verify returns the capability of token if this server signed it and it
// has not expired at now.
func (s *Signer) Verify(token string, now time.Time) (Capability, error) {
	if len(token) > MaxToken {
		return Capability{}, ErrInvalid
	}
	p, m, ok := strings.Cut(token, ".")
	if !ok {
		return Capability{}, ErrInvalid
	}
	payload, err1 := enc.DecodeString(p)
	sum, err2 := enc.DecodeString(m)
	// One spelling per token: re-encoding gives it back.
	if err1 != nil || err2 != nil || enc.EncodeToString(payload) != p || enc.EncodeToString(sum) != m ||
		!hmac.Equal(sum, s.mac(payload)) {
		return Capability{}, ErrInvalid
	}
	var c Capability
	if err := json.Unmarshal(payload, &c); err != nil || c.Rule == "" || len(c.Matchers) == 0 {
		return Capability{}, ErrInvalid
	}
	if now.Unix() >= c.Expires {
		return Capability{}, ErrExpired
	}
	c.ID = hex.EncodeToString(sum[:8])
	return c, nil
}

// Link returns the mute link for an event of eventID, received at
// received, that rule r matched with group key key, under base (the
// external URL); "" when no silence can be scoped to the key or the link
// would be too long.
func (s *Signer) Link(base string, r *rules.Rule, key string, eventID int64, received time.Time) string {
	m, ok := Scope(r, key)
	if !ok {
		return ""
	}
	data, _ := json.Marshal(m) // decoded YAML and strings: cannot fail
	tok := s.Sign(Capability{Rule: r.Name, Key: key, Matchers: data, Event: eventID, Expires: received.Add(Valid).Unix()})
	if len(tok) > MaxToken {
		return ""
	}
	return strings.TrimRight(base, "/") + "/ui/mute/" + tok
}

// Scope returns the matchers of a silence for rule r's group key key: the
// key's fields with its values, within the rule's match block when that is
// simple. ok is false when the key names no field or a field with no
// value, or a value the match language would read as a range (such
// silences would hold more than the group), or does not parse.
func Scope(r *rules.Rule, key string) (matchers map[string]any, ok bool) {
	vals, err := ParseKey(key)
	if err != nil || len(vals) == 0 {
		return nil, false
	}
	m := r.SimpleMatch()
	if m == nil {
		m = map[string]any{}
	}
	for f, v := range vals {
		if v == "" || rangeLike.MatchString(v) {
			return nil, false
		}
		m[f] = v
	}
	return m, true
}

// ParseKey splits a group key as rules.Rule.GroupKey writes it
// (GroupId="@TGS#1" Type="Public") into its fields and values.
func ParseKey(key string) (map[string]string, error) {
	out := map[string]string{}
	rest := key
	for rest != "" {
		f, after, ok := strings.Cut(rest, "=")
		if !ok || f == "" || strings.ContainsAny(f, " \"") {
			return nil, errors.New("mute: not a group key")
		}
		q, err := strconv.QuotedPrefix(after)
		if err != nil {
			return nil, errors.New("mute: not a group key")
		}
		v, _ := strconv.Unquote(q)
		out[f] = v
		rest = strings.TrimPrefix(after[len(q):], " ")
	}
	return out, nil
}
