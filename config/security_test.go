package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/internal/yamlfile"
)

// The example works as written, with the previous token unset.
func TestAppTokensAsWritten(t *testing.T) {
	src := "apps:\n  - sdkappid: 1400000000\n    tokens: [${IM_CALLBACK_TOKEN}, ${IM_CALLBACK_TOKEN_PREVIOUS}]\n"
	tests := []struct {
		name string
		env  map[string]string
		want []string
		err  string
	}{
		{"both set", map[string]string{"IM_CALLBACK_TOKEN": "new", "IM_CALLBACK_TOKEN_PREVIOUS": "old"}, []string{"new", "old"}, ""},
		{"previous unset", map[string]string{"IM_CALLBACK_TOKEN": "new"}, []string{"new"}, ""},
		{"previous empty", map[string]string{"IM_CALLBACK_TOKEN": "new\n", "IM_CALLBACK_TOKEN_PREVIOUS": ""}, []string{"new"}, ""},
		{"both unset", nil, nil, "x.yaml:3: app 1400000000: tokens: environment variable IM_CALLBACK_TOKEN, IM_CALLBACK_TOKEN_PREVIOUS is not set"},
		{"whitespace only", map[string]string{"IM_CALLBACK_TOKEN": "  ", "IM_CALLBACK_TOKEN_PREVIOUS": "\t"}, nil, "tokens: every token is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("x.yaml", []byte(src), env(tt.env))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tok := range c.Apps[0].Tokens {
				got = append(got, tok.Reveal())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("tokens (-want +got):\n%s", diff)
			}
			if !c.Apps[0].Signed() {
				t.Error("app with tokens is not Signed")
			}
		})
	}
}

func TestSecurityDefaults(t *testing.T) {
	c, err := Parse("x.yaml", []byte("apps:\n  - sdkappid: 1\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(defaultCallback, c.Callback); diff != "" {
		t.Errorf("callback defaults (-want +got):\n%s", diff)
	}
	if c.Apps[0].Signed() || !strings.Contains(strings.Join(c.Warnings, "\n"), "app 1 has no tokens: its callbacks are accepted unsigned") {
		t.Errorf("unsigned app not warned about: %q", c.Warnings)
	}
	if c.Admin.Listen != "" || c.Admin.Token.IsSet() || c.Server.TLS.Enabled() || len(c.Server.TrustedProxies) != 0 {
		t.Errorf("admin %+v tls %+v proxies %v", c.Admin, c.Server.TLS, c.Server.TrustedProxies)
	}
}

// Every *_file secret reads its file, relative to the config file, and
// conflicts with its plain twin.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tokens", "# rotated 2026-11\ntok-new\n\n  tok-old  \n")
	write("hook", "https://hooks.slack.com/services/T1/B2/from-file\n")
	write("bot", "xoxb-from-file")
	write("pw", "mail-pw-from-file\n")
	write("admin", "admin-token-from-file\n")
	write("hook-url", "https://pager.example.com/hook/from-file\n")
	write("hook-secret", "hmac-from-file\n")
	cfg := `listen: 0.0.0.0:8443
apps:
  - sdkappid: 1400000000
    tokens_file: tokens
receivers:
  - name: hook
    type: slack
    webhook_url_file: hook
    mention: ["<!subteam^S0123ABC>", "<!here>", "<@U024BE7LH|bob>"]
  - name: bot
    type: slack
    token_file: ./bot
    channel: C123
  - name: mail
    type: email
    smtp_host: smtp.example.com
    username: u
    password_file: pw
    from: a@example.com
    to: [b@example.com]
  - name: pager
    type: webhook
    url_file: hook-url
    secret_file: hook-secret
admin:
  listen: 127.0.0.1:9090
  token_file: admin
`
	path := filepath.Join(dir, "imalert.yaml")
	write("imalert.yaml", cfg)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"token0": c.Apps[0].Tokens[0].Reveal(), "token1": c.Apps[0].Tokens[1].Reveal(),
		"hook": c.Receivers[0].Slack.WebhookURL.Reveal(), "bot": c.Receivers[1].Slack.Token.Reveal(),
		"pw": c.Receivers[2].Email.Password.Reveal(), "admin": c.Admin.Token.Reveal(),
		"hook-url": c.Receivers[3].Webhook.URL.Reveal(), "hook-secret": c.Receivers[3].Webhook.Secret.Reveal(),
	}
	want := map[string]string{
		"token0": "tok-new", "token1": "tok-old", "hook": "https://hooks.slack.com/services/T1/B2/from-file",
		"bot": "xoxb-from-file", "pw": "mail-pw-from-file", "admin": "admin-token-from-file",
		"hook-url": "https://pager.example.com/hook/from-file", "hook-secret": "hmac-from-file",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	if len(c.Apps[0].Tokens) != 2 {
		t.Errorf("tokens = %d, want 2", len(c.Apps[0].Tokens))
	}
	if diff := cmp.Diff([]string{"<!subteam^S0123ABC>", "<!here>", "<@U024BE7LH|bob>"}, c.Receivers[0].Slack.Mention); diff != "" {
		t.Errorf("mention (-want +got):\n%s", diff)
	}
	secrets := NewRedactor(c.Secrets()...)
	for _, v := range want {
		if secrets.Redact(v) == v {
			t.Errorf("Secrets() misses %q", v)
		}
	}
}

func TestSecurityErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty"), []byte("\n \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "comments"), []byte("# nothing\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `listen: 0.0.0.0:8080
apps:
  - sdkappid: 1
    tokens: [a]
    tokens_file: x
  - sdkappid: 2
    tokens: []
  - sdkappid: 3
    tokens_file: comments
  - sdkappid: 4
    tokens_file: missing
callback:
  freshness_window: 0s
  dedup_window: 1m
  dedup_max_keys: -1
  allow_cidrs: [10.0.0.0/8, not-a-net, "::1"]
  rate_limit:
    per_second: -1
    max_sources: -1
  limits:
    max_json_depth: 2
    max_text_bytes: 10
server:
  trusted_proxies: [192.168.0.0/33]
  tls:
    cert_file: cert.pem
admin:
  listen: 0.0.0.0:8080
  token: ${UNSET_ADMIN_TOKEN}
receivers:
  - name: s
    type: slack
    webhook_url: https://example.com/x
    webhook_url_file: empty
    mention: ["@here", "<!channel>", "<http://evil|x>"]
  - name: t
    type: slack
    token_file: empty
    channel: C1
  - name: m
    type: email
    smtp_host: h
    username: u
    password: p
    password_file: empty
    from: a@example.com
    to: [b@example.com]
  - name: w
    type: webhook
    url: https://example.com/hook
    url_file: empty
    secret_file: missing
`
	path := filepath.Join(dir, "bad.yaml")
	_, err := Parse(path, []byte(src), env(nil))
	var es yamlfile.Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`:5: app 1: set tokens or tokens_file, not both`,
		`:7: app 2: tokens: it is empty`,
		`:9: app 3: tokens_file holds no token`,
		`:11: app 4: tokens_file: ` + filepath.Join(dir, "missing") + `: no such file or directory`,
		`:13: callback.freshness_window must be between 1s and 24h`,
		`:15: callback.dedup_max_keys must not be negative`,
		`:16: callback.allow_cidrs: "not-a-net" is not an IP address or CIDR`,
		`:18: callback.rate_limit.per_second must not be negative`,
		`:19: callback.rate_limit.max_sources must not be negative`,
		`:21: callback.limits.max_json_depth must be between 8 and 1024`,
		`:22: callback.limits.max_text_bytes must be between 1024 and 67108864`,
		`:24: server.trusted_proxies: "192.168.0.0/33" is not an IP address or CIDR`,
		`:26: server.tls: set both cert_file and key_file`,
		`:28: admin.listen must differ from listen`,
		`:29: admin.token is empty: environment variable UNSET_ADMIN_TOKEN is not set`,
		`:34: receiver "s": set webhook_url or webhook_url_file, not both`,
		`:35: receiver "s": mention: "@here" is not a Slack mention`,
		`:35: receiver "s": mention: "<http://evil|x>" is not a Slack mention`,
		`:38: receiver "t": token_file: the file is empty`,
		`:45: receiver "m": set password or password_file, not both`,
		`:51: receiver "w": set url or url_file, not both`,
		`:52: receiver "w": secret_file: ` + filepath.Join(dir, "missing") + `: no such file or directory`,
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing error %q in\n%s", w, got)
		}
	}
	if len(es) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(es), len(want), got)
	}
}

func TestTrustedProxiesAndAllowlist(t *testing.T) {
	c, err := Parse("x.yaml", []byte(`apps: [{sdkappid: 1}]
server:
  trusted_proxies: [10.1.2.3, 10.0.0.0/8, "::ffff:192.0.2.1"]
callback:
  allow_cidrs: [203.0.113.0/24, 198.51.100.7, 2001:db8::/32]
  rate_limit: {per_second: 2.5}
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"10.1.2.3/32", "10.0.0.0/8", "192.0.2.1/32"}, c.Server.TrustedProxies); diff != "" {
		t.Errorf("trusted_proxies (-want +got):\n%s", diff)
	}
	want := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	if diff := cmp.Diff(want, c.Callback.AllowNets, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("allow_cidrs (-want +got):\n%s", diff)
	}
	if c.Callback.RateLimit.Burst != 0 {
		t.Errorf("burst = %d, want 0 (the server's default applies)", c.Callback.RateLimit.Burst)
	}
}

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteCert(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := "apps: [{sdkappid: 1}]\nserver:\n  tls: {cert_file: cert.pem, key_file: key.pem}\n"
	c, err := Parse(filepath.Join(dir, "a.yaml"), []byte(good), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Server.TLS.Enabled() || c.Server.TLS.CertFile != filepath.Join(dir, "cert.pem") {
		t.Errorf("tls = %+v", c.Server.TLS)
	}
	bad := "apps: [{sdkappid: 1}]\nserver:\n  tls: {cert_file: junk.pem, key_file: key.pem}\n"
	_, err = Parse(filepath.Join(dir, "b.yaml"), []byte(bad), env(nil))
	if err == nil || !strings.Contains(err.Error(), "b.yaml:3: server.tls: failed to find any PEM data") {
		t.Errorf("err = %v", err)
	}
}
