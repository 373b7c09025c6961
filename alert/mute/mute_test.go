package mute

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/rules/rulestest"
)

var t0 = time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)

const ruleSrc = `rules:
  - name: rate
    match: {error_code: 10023, callback_command: Group.CallbackSendMsgException}
    group_by: [GroupId, Type]
    receivers: [a]
  - name: complex
    match: {any: [{error_code: 10023}, {error_code: 10017}]}
    group_by: [GroupId]
    receivers: [a]
  - name: nogroup
    match: {error_code: 80001}
    receivers: [a]
`

func rule(t *testing.T, name string) *rules.Rule {
	t.Helper()
	for _, r := range rulestest.Compile(t, ruleSrc, "a").Rules() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no rule %q", name)
	return nil
}

func token(t testing.TB, link string) string {
	t.Helper()
	_, tok, ok := strings.Cut(link, "/ui/mute/")
	if !ok {
		t.Fatalf("link %q has no /ui/mute/ token", link)
	}
	return tok
}

// A link verifies on this server until it expires; altered, presented to
// another server or after its expiry, it does not.
func TestVerify(t *testing.T) {
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	r := rule(t, "rate")
	key := `GroupId="@TGS#1" Type="Public"`
	link := s.Link("https://imalert.example.com/", r, key, 7, t0)
	if !strings.HasPrefix(link, "https://imalert.example.com/ui/mute/") {
		t.Fatalf("link %q", link)
	}
	tok := token(t, link)
	c, err := s.Verify(tok, t0.Add(Valid-time.Second))
	if err != nil {
		t.Fatalf("Verify just before expiry: %v", err)
	}
	if c.Rule != "rate" || c.Key != key || c.Event != 7 || !c.ExpiresAt().Equal(t0.Add(Valid)) || len(c.ID) != 16 {
		t.Errorf("capability %+v", c)
	}
	var m map[string]any
	if err := json.Unmarshal(c.Matchers, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"error_code": 10023.0, "callback_command": "Group.CallbackSendMsgException", "GroupId": "@TGS#1", "Type": "Public"}
	if d := cmp.Diff(want, m); d != "" {
		t.Errorf("matchers (-want +got):\n%s", d)
	}

	if strings.Trim(tok, "0123456789abcdefghijklmnopqrstuv.") != "" {
		t.Errorf("token %q: want lowercase letters, digits and a dot only", tok)
	}
	payload, sum, _ := strings.Cut(tok, ".")
	raw, _ := enc.DecodeString(payload)
	forge := func(from, to string) string {
		return enc.EncodeToString([]byte(strings.Replace(string(raw), from, to, 1))) + "." + sum
	}
	for _, tt := range []struct {
		name, token string
		at          time.Time
		signer      *Signer
		want        error
	}{
		{"expired", tok, t0.Add(Valid), s, ErrExpired},
		{"another server's key", tok, t0, NewSigner([]byte("another key, another server......")), ErrInvalid},
		{"another rule", forge(`"r":"rate"`, `"r":"complex"`), t0, s, ErrInvalid},
		{"another group key", forge(`@TGS#1`, `@TGS#2`), t0, s, ErrInvalid},
		{"wider matchers", forge(`"GroupId":"@TGS#1",`, ``), t0, s, ErrInvalid},
		{"later expiry", forge(`"x":`, `"x":9`), t0, s, ErrInvalid},
		{"MAC cut short", tok[:len(tok)-4], t0, s, ErrInvalid},
		{"MAC respelled", tok[:len(tok)-1] + respell(tok[len(tok)-1]), t0, s, ErrInvalid},
		{"no MAC", payload, t0, s, ErrInvalid},
		{"not base32", "!!." + sum, t0, s, ErrInvalid},
		{"empty", "", t0, s, ErrInvalid},
		{"too long", strings.Repeat("a", MaxToken+1), t0, s, ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.signer.Verify(tt.token, tt.at); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// respell changes the unused low bits of a token's last base32 digit.
func respell(c byte) string {
	const digits = "0123456789abcdefghijklmnopqrstuv"
	i := strings.IndexByte(digits, c)
	return string(digits[i^1])
}

// A silence from a link holds the page's group key, within the rule's match
// block when that is flat; a key that cannot scope a silence gives no link.
func TestScope(t *testing.T) {
	for _, tt := range []struct {
		name, rule, key string
		want            map[string]any
	}{
		{"flat match and key", "rate", `GroupId="@TGS#1" Type="Public"`,
			map[string]any{"error_code": 10023, "callback_command": "Group.CallbackSendMsgException", "GroupId": "@TGS#1", "Type": "Public"}},
		{"quotes and spaces in a value", "complex", `GroupId="a \"b\" c=d"`, map[string]any{"GroupId": `a "b" c=d`}},
		{"no group_by", "nogroup", ``, nil},
		{"empty value", "complex", `GroupId=""`, nil},
		{"a value read as a range", "complex", `GroupId="1-5"`, nil},
		{"not a key", "complex", `GroupId=@TGS#1`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Scope(rule(t, tt.rule), tt.key)
			if ok != (tt.want != nil) {
				t.Fatalf("Scope ok = %v, want %v (%v)", ok, tt.want != nil, got)
			}
			if d := cmp.Diff(tt.want, got); ok && d != "" {
				t.Errorf("matchers (-want +got):\n%s", d)
			}
			if link := NewSigner([]byte("k")).Link("https://x", rule(t, tt.rule), tt.key, 1, t0); (link != "") != ok {
				t.Errorf("Link = %q, want a link: %v", link, ok)
			}
		})
	}
}

// A key as long as a page allows makes no link rather than one too long.
func TestLinkTooLong(t *testing.T) {
	key := `GroupId="` + strings.Repeat("g", MaxToken) + `"`
	if link := NewSigner([]byte("k")).Link("https://x", rule(t, "complex"), key, 1, t0); link != "" {
		t.Errorf("link of %d bytes, want none", len(link))
	}
}

// ParseKey reads back any key rules.Rule.GroupKey writes.
func FuzzParseKey(f *testing.F) {
	f.Add("@TGS#1", "Public")
	f.Add(`a "b" c=d`, "")
	f.Add("\x00\n", " x=\"y\"")
	f.Fuzz(func(t *testing.T, group, typ string) {
		key := "GroupId=" + strconv.Quote(group) + " Type=" + strconv.Quote(typ)
		got, err := ParseKey(key)
		if err != nil {
			t.Fatalf("ParseKey(%q): %v", key, err)
		}
		if d := cmp.Diff(map[string]string{"GroupId": group, "Type": typ}, got); d != "" {
			t.Errorf("ParseKey(%q) (-want +got):\n%s", key, d)
		}
	})
}

// Verify never panics, and takes no token but the one this server signed.
func FuzzVerify(f *testing.F) {
	s := NewSigner([]byte("fuzz key"))
	r := &rules.Rule{Name: "rate", GroupBy: []string{"GroupId"}}
	valid := token(f, s.Link("https://x", r, `GroupId="@TGS#1"`, 1, t0))
	f.Add(valid)
	f.Add(valid[:len(valid)-1] + "0")
	f.Add("." + valid)
	f.Add("0.0")
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := s.Verify(tok, t0); err == nil && tok != valid {
			t.Errorf("Verify(%q) took a token this server did not sign", tok)
		}
	})
}
