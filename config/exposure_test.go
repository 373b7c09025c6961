package config

import (
	"strings"
	"testing"
)

func countHolding(ws []string, sub string) int {
	n := 0
	for _, w := range ws {
		if strings.Contains(w, sub) {
			n++
		}
	}
	return n
}

// Without admin.token, a listener beyond loopback draws one warning,
// computed on the effective address: serve --listen moves it.
func TestAdminWarningFollowsListen(t *testing.T) {
	const open = "without admin.token: the admin endpoints (/metrics, /-/reload, /api/...) answer only loopback clients"
	tests := []struct {
		name, yaml, listen string
		want               int
	}{
		{"loopback", "listen: 127.0.0.1:8080\n", "", 0},
		{"localhost", "listen: localhost:8080\n", "", 0},
		{"IPv6 loopback", "listen: '[::1]:8080'\n", "", 0},
		{"all addresses", "listen: 0.0.0.0:8080\n", "", 1},
		{"no host", "listen: :8080\n", "", 1},
		{"--listen opens it", "listen: 127.0.0.1:8080\n", "0.0.0.0:8080", 1},
		{"--listen closes it", "listen: 0.0.0.0:8080\n", "127.0.0.1:9000", 0},
		{"--listen moves it", "listen: 0.0.0.0:8080\n", "192.0.2.1:9000", 1},
		{"admin on loopback apart", "listen: 0.0.0.0:8080\nadmin: {listen: 127.0.0.1:9090}\n", "", 0},
		{"admin apart and open", "listen: 127.0.0.1:8080\nadmin: {listen: 0.0.0.0:9090}\n", "", 1},
		{"token", "listen: 0.0.0.0:8080\nadmin: {token: 0123456789abcdef0123}\n", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("x.yaml", []byte("apps: [{sdkappid: 1}]\n"+tt.yaml), env(nil))
			if err != nil {
				t.Fatal(err)
			}
			if tt.listen != "" {
				c.SetListen(tt.listen)
				if c.Listen != tt.listen {
					t.Errorf("Listen = %q", c.Listen)
				}
			}
			if got := countHolding(c.Warnings, open); got != tt.want {
				t.Errorf("%d warnings about the admin surface, want %d: %q", got, tt.want, c.Warnings)
			}
			if (c.AdminWarning() != "") != (tt.want == 1) {
				t.Errorf("AdminWarning() = %q", c.AdminWarning())
			}
		})
	}
	// The built-in config, moved off loopback, warns too.
	c := Default()
	c.SetListen("0.0.0.0:8080")
	if countHolding(c.Warnings, BuiltinName+": listening on 0.0.0.0:8080 without admin.token") != 1 {
		t.Errorf("built-in config on 0.0.0.0: %q", c.Warnings)
	}
}

// A short admin token draws a warning that does not show it.
func TestShortAdminTokenWarns(t *testing.T) {
	for _, tt := range []struct {
		token string
		warn  bool
	}{
		{"s3cr", true},
		{"0123456789abcde", true},
		{"0123456789abcdef", false},
		{"a-much-longer-random-admin-token", false},
	} {
		c, err := Parse("x.yaml", []byte("apps: [{sdkappid: 1}]\nadmin: {token: ${TOK}}\n"), env(map[string]string{"TOK": tt.token}))
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(c.Warnings, "\n")
		if got := strings.Contains(all, "admin.token is shorter than 16 characters"); got != tt.warn {
			t.Errorf("token of %d characters: warned %v, want %v (%q)", len(tt.token), got, tt.warn, c.Warnings)
		}
		if strings.Contains(all, tt.token) {
			t.Errorf("a warning shows the token: %q", c.Warnings)
		}
	}
}
