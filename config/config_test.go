package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/yamlfile"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func parseFile(t *testing.T, path string, vars map[string]string) (*Config, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(path, data, env(vars))
}

func TestParseGood(t *testing.T) {
	c, err := parseFile(t, "testdata/good.yaml", map[string]string{
		"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B2/secretpart",
		"SMTP_PASSWORD":     "hunter2-password",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Receivers) != 3 || c.Receivers[1].Slack == nil || c.Receivers[2].Email == nil {
		t.Fatalf("receivers = %+v", c.Receivers)
	}
	if got := c.Receivers[1].Slack.WebhookURL.Reveal(); got != "https://hooks.slack.com/services/T1/B2/secretpart" {
		t.Errorf("webhook_url not expanded: %q", got)
	}
	e := c.Receivers[2].Email
	if e.SMTPPort != 587 || e.TLS != TLSStartTLS || e.Password.Reveal() != "hunter2-password" || e.To[0] != "oncall@example.com" {
		t.Errorf("email receiver = %+v", e)
	}
	if want := filepath.Join("testdata", "rules/*.yaml"); len(c.RuleFiles) != 1 || c.RuleFiles[0] != want {
		t.Errorf("rule_files = %v, want [%s] (relative to the config)", c.RuleFiles, want)
	}
	if c.Server.MaxBodyBytes != 1<<20 || c.Throttle.MaxKeys != 100000 {
		t.Errorf("defaults not applied: %+v %+v", c.Server, c.Throttle)
	}
	if c.DataDir != filepath.Join("testdata", "data") {
		t.Errorf("data_dir = %q", c.DataDir)
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		file string
		want []string // file:line: substrings, each must appear
	}{
		{"unknown-key.yaml", []string{`unknown-key.yaml:4: unknown key "recievers" (did you mean "receivers"?)`}},
		{"receiver-errors.yaml", []string{
			`receiver-errors.yaml:6: receiver "hook": webhook_url is empty: environment variable UNSET_WEBHOOK_VAR is not set`,
			`receiver-errors.yaml:7: receiver "both": set webhook_url or token, not both`,
			`receiver-errors.yaml:14: receiver "mail": tls: want starttls, tls or none, got "ssl"`,
			`receiver-errors.yaml:15: receiver "mail": from: not a valid email address`,
			`receiver-errors.yaml:16: receiver "mail": to: "bad\naddr" is not a valid email address`,
			`receiver-errors.yaml:17: receivers: duplicate name "hook"`,
			`receiver-errors.yaml:18: receiver "hook": unknown type "pager"`,
		}},
		{"types.yaml", []string{
			`types.yaml:1: listen: want host:port`,
			"types.yaml:3: cannot read !!str `abc` into uint64",
			`types.yaml:5: invalid duration "10x"`,
			`types.yaml:7: throttle.max_keys must be at least 1`,
		}},
		{"syntax.yaml", []string{`syntax.yaml:2: did not find expected`}},
		{"email-key-on-slack.yaml", []string{`email-key-on-slack.yaml:7: unknown key "smtp_host"`}},
		{"no-apps.yaml", []string{`no-apps.yaml:1: apps: at least one app`}},
		{"ca-file.yaml", []string{
			`ca-file.yaml:9: receiver "mail": ca_file: no such file or directory`,
			`ca-file.yaml:16: receiver "plain": ca_file needs tls: starttls or tls`,
			`ca-file.yaml:16: receiver "plain": ca_file: no PEM certificate in testdata/good.yaml`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata/bad", tt.file)
			_, err := parseFile(t, path, nil)
			var es yamlfile.Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want yamlfile.Errors", err)
			}
			got := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(got, strings.Replace(w, tt.file, path, 1)) {
					t.Errorf("errors do not contain %q; got:\n%s", w, got)
				}
			}
			if len(es) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%s", len(es), len(tt.want), got)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if c.Listen != "127.0.0.1:8080" || len(c.Receivers) != 1 || c.Receivers[0].Console == nil || c.AppIDs()[0] != 1400000000 {
		t.Errorf("built-in config = %+v", c)
	}
}

// A secret never prints, whatever the route: fmt verbs, JSON, YAML, slog,
// or an error message from a value of the wrong type.
func TestSecretNeverPrints(t *testing.T) {
	const value = "xoxb-very-secret-token"
	s := Secret(value)
	type holder struct {
		Token Secret `json:"token" yaml:"token"`
	}
	var outputs []string
	for _, f := range []string{"%v", "%s", "%q", "%x", "%X", "%#v", "%+v", "%10s", "%d"} {
		outputs = append(outputs, fmt.Sprintf(f, s), fmt.Sprintf(f, holder{s}), fmt.Sprintf(f, &holder{s}))
	}
	j, _ := json.Marshal(holder{s})
	y, _ := yaml.Marshal(holder{s})
	var logBuf strings.Builder
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "token", s, "holder", holder{s})
	outputs = append(outputs, string(j), string(y), logBuf.String(), s.String(), s.GoString())
	for _, o := range outputs {
		if strings.Contains(o, value) || strings.Contains(o, fmt.Sprintf("%x", value)) {
			t.Errorf("secret leaked: %q", o)
		}
	}
	if s.Reveal() != value {
		t.Error("Reveal lost the value")
	}
	// A secret expanded into a field of the wrong type is not echoed.
	_, err := Parse("x.yaml", []byte("apps:\n  - sdkappid: ${SECRET}\n"), env(map[string]string{"SECRET": value}))
	if err == nil || strings.Contains(err.Error(), value) {
		t.Errorf("type error leaks the expanded value: %v", err)
	}
}

func TestRedactor(t *testing.T) {
	r := NewRedactor("https://hooks.slack.com/services/T1/B2/abcdef", "pw")
	got := r.Redact(`Post "https://hooks.slack.com/services/T1/B2/abcdef": EOF; path /services/T1/B2/abcdef; pw stays`)
	if strings.Contains(got, "abcdef") || !strings.Contains(got, "pw stays") {
		t.Errorf("Redact = %q", got)
	}
}
