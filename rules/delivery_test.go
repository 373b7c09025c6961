package rules

import (
	"strings"
	"testing"
	"time"
)

func TestDigestAndFallback(t *testing.T) {
	tests := []struct {
		name     string
		rule     string // YAML lines after name and receivers
		digest   time.Duration
		fallback string
		after    time.Duration
		err      string // substring of the error; empty: valid
	}{
		{"none", "", 0, "", 0, ""},
		{"digest", "    digest: 10m\n", 10 * time.Minute, "", 0, ""},
		{"digest too short", "    digest: 10s\n", 0, "", 0, "x.yaml:5: rule \"r\": digest must be at least 1m0s"},
		{"fallback with after", "    fallback: {receiver: ops-mail, after: 2m}\n", 0, "ops-mail", 2 * time.Minute, ""},
		{"fallback default after", "    fallback: {receiver: ops-mail}\n", 0, "ops-mail", DefaultFallbackAfter, ""},
		{"fallback unknown receiver", "    fallback: {receiver: pager}\n", 0, "", 0, `x.yaml:5: rule "r": fallback: unknown receiver "pager"`},
		{"fallback is a receiver", "    fallback: {receiver: ops-slack}\n", 0, "", 0, `already one of the rule's receivers`},
		{"fallback without receiver", "    fallback: {after: 1m}\n", 0, "", 0, `fallback: receiver is required`},
		{"fallback zero after", "    fallback: {receiver: ops-mail, after: 0s}\n", 0, "", 0, `fallback: after must be positive`},
		{"fallback unknown key", "    fallback: {receiver: ops-mail, afer: 1m}\n", 0, "", 0, `unknown key "afer"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "rules:\n  - name: r\n    match: {error_code: 10023}\n    receivers: [ops-slack]\n" + tt.rule
			f, err := ParseFile("x.yaml", []byte(src))
			var e *Engine
			if err == nil {
				e, err = Compile([]*File{f}, Options{Receivers: receivers})
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := e.Rules()[0]
			if r.Digest != tt.digest || r.Fallback != tt.fallback || r.FallbackAfter != tt.after {
				t.Errorf("got digest %v fallback %q after %v, want %v %q %v", r.Digest, r.Fallback, r.FallbackAfter, tt.digest, tt.fallback, tt.after)
			}
		})
	}
}
