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
	"time"

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
			`types.yaml:3: sdkappid: want an integer, got "abc"`,
			`types.yaml:5: server.read_timeout: invalid duration "10x"`,
			`types.yaml:7: throttle.max_keys must be at least 1`,
		}},
		{"syntax.yaml", []string{`syntax.yaml:4: this line is indented 3 spaces, which lines up with no enclosing key (want one of 0, 2) (yaml: did not find expected '-' indicator)`}},
		{"email-key-on-slack.yaml", []string{`email-key-on-slack.yaml:7: unknown key "smtp_host"`}},
		{"no-apps.yaml", []string{`no-apps.yaml:1: apps: at least one app`}},
		{"callback-path.yaml", []string{`callback-path.yaml:1: callback_path: want a literal path starting with / (no :, *, ? or #)`}},
		{"ca-file.yaml", []string{
			`ca-file.yaml:9: receiver "mail": ca_file: no such file or directory`,
			`ca-file.yaml:16: receiver "plain": ca_file needs tls: starttls or tls`,
			`ca-file.yaml:16: receiver "plain": ca_file: no PEM certificate in testdata/good.yaml`,
		}},
		{"delivery-errors.yaml", []string{
			`delivery-errors.yaml:1: data_dir must not be empty`,
			`delivery-errors.yaml:4: journal.retention must be at least 1h`,
			`delivery-errors.yaml:4: journal.sync: want full or normal, got "sometimes"`,
			`delivery-errors.yaml:4: journal.wal_max_bytes must be at least 4194304 (4 MiB)`,
			`delivery-errors.yaml:9: receiver "a": retry.max must be at least retry.initial`,
			`delivery-errors.yaml:10: receiver "a": repeats: thread needs token and channel`,
			`delivery-errors.yaml:15: receiver "b": repeats: want new, thread or update, got "sometimes"`,
			`delivery-errors.yaml:16: pace: negative duration "-1s"`,
			`delivery-errors.yaml:19: receiver "c": url must be an http:// or https:// URL`,
			`delivery-errors.yaml:20: receiver "c": secret is empty: environment variable UNSET_HOOK_SECRET is not set`,
			`delivery-errors.yaml:21: receiver "c": retry.initial must be positive`,
			`delivery-errors.yaml:21: receiver "c": retry.give_up_after must be at least retry.initial`,
			`delivery-errors.yaml:22: receiver "d": url is required`,
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

// The delivery keys: journal, retry, pace, Slack repeats and the webhook
// receiver, including the retry line of the issue exactly as written.
func TestParseDelivery(t *testing.T) {
	c, err := parseFile(t, "testdata/delivery.yaml", map[string]string{
		"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B2/secretpart",
		"SLACK_TOKEN":       "xoxb-token-value",
		"HOOK_URL":          "https://hooks.example.com/imalert?key=abcdef",
		"HOOK_SECRET":       "shared-hmac-secret",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/imalert" || c.Journal.Retention.D() != 72*time.Hour || c.Journal.Sync != "normal" {
		t.Errorf("data_dir %q journal %+v", c.DataDir, c.Journal)
	}
	type got struct {
		Retry Retry
		Pace  time.Duration
	}
	want := map[string]got{
		"ops-slack": {Retry{200 * time.Millisecond, 2 * time.Second, 24 * time.Hour}, time.Second},
		"ops-bot":   {Retry{500 * time.Millisecond, time.Minute, 24 * time.Hour}, 2 * time.Second},
		"ops-mail":  {DefaultRetry, 0},
		"hook":      {DefaultRetry, 100 * time.Millisecond},
	}
	for _, r := range c.Receivers {
		if g := (got{r.Retry, r.Pace}); g != want[r.Name] {
			t.Errorf("receiver %s: %+v, want %+v", r.Name, g, want[r.Name])
		}
	}
	if s := c.Receivers[0].Slack; s.Repeats != RepeatsNew || s.IncidentTTL.D() != DefaultIncidentTTL {
		t.Errorf("slack defaults: %+v", s)
	}
	if s := c.Receivers[1].Slack; s.Repeats != RepeatsThread || s.IncidentTTL.D() != 12*time.Hour {
		t.Errorf("slack bot: %+v", s)
	}
	h := c.Receivers[3].Webhook
	if h == nil || h.URL.Reveal() != "https://hooks.example.com/imalert?key=abcdef" || h.Secret.Reveal() != "shared-hmac-secret" || h.Timeout.D() != 10*time.Second {
		t.Fatalf("webhook = %+v", h)
	}
	secrets := map[string]bool{}
	for _, s := range c.Secrets() {
		secrets[s.Reveal()] = true
	}
	if !secrets["shared-hmac-secret"] || !secrets["https://hooks.example.com/imalert?key=abcdef"] {
		t.Error("webhook secrets are not redacted")
	}
	if d := Default(); d.Journal != defaultJournal || d.DataDir != "./data" {
		t.Errorf("built-in journal %+v data_dir %q", d.Journal, d.DataDir)
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

// ${VAR} works for any value: numbers read as numbers, and text that looks
// like another YAML type stays the text it is.
func TestEnvForAnyValue(t *testing.T) {
	src := `apps:
  - sdkappid: ${APP_ID}
server:
  max_body_bytes: ${MAX_BODY}
receivers:
  - name: mail
    type: email
    smtp_host: ${SMTP_HOST}
    username: u
    password: ${SMTP_PASSWORD}
    from: a@example.com
    to: [b@example.com]
`
	for _, pw := range []string{"123456", "true", "null", "~", "0x10", "a: b", "#not-a-comment"} {
		c, err := Parse("x.yaml", []byte(src), env(map[string]string{
			"APP_ID": "1400000000", "MAX_BODY": "2048", "SMTP_HOST": "1.5", "SMTP_PASSWORD": pw,
		}))
		if err != nil {
			t.Fatalf("password %q: %v", pw, err)
		}
		if c.Apps[0].SdkAppID != 1400000000 || c.Server.MaxBodyBytes != 2048 || c.Receivers[0].Email.SMTPHost != "1.5" {
			t.Errorf("numbers from the environment: app %d body %d host %q", c.Apps[0].SdkAppID, c.Server.MaxBodyBytes, c.Receivers[0].Email.SMTPHost)
		}
		if got := c.Receivers[0].Email.Password.Reveal(); got != pw {
			t.Errorf("password from the environment = %q, want %q", got, pw)
		}
	}
}

// The chat-bot receivers parse as the issue writes them, with their
// default paces, and every secret they hold is redacted.
func TestParseChatBots(t *testing.T) {
	vars := map[string]string{
		"WECOM_WEBHOOK_URL":    "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecom-key-0123",
		"DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=ding-token-0123",
		"DINGTALK_SECRET":      "SECding-secret-0123",
		"FEISHU_WEBHOOK_URL":   "https://open.feishu.cn/open-apis/bot/v2/hook/feishu-hook-0123",
		"FEISHU_SECRET":        "feishu-secret-0123",
		"PD_AUTH":              "Token token=pd-header-0123",
	}
	c, err := parseFile(t, "testdata/chatbots.yaml", vars)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Receivers) != 5 {
		t.Fatalf("%d receivers", len(c.Receivers))
	}
	w, d, f, lark, hook := c.Receivers[0].WeCom, c.Receivers[1].DingTalk, c.Receivers[2].Feishu, c.Receivers[3].Feishu, c.Receivers[4].Webhook
	if w == nil || d == nil || f == nil || lark == nil || hook == nil {
		t.Fatalf("receivers = %+v", c.Receivers)
	}
	if w.WebhookURL.Reveal() != vars["WECOM_WEBHOOK_URL"] || len(w.MentionMobiles) != 1 || w.MentionMobiles[0] != "13800000000" || w.Timeout.D() != 10*time.Second {
		t.Errorf("wecom = %+v", w)
	}
	if d.Secret.Reveal() != vars["DINGTALK_SECRET"] || f.Secret.Reveal() != vars["FEISHU_SECRET"] {
		t.Errorf("signing secrets: %q %q", d.Secret.Reveal(), f.Secret.Reveal())
	}
	if lark.WebhookURL.Reveal() != "https://open.larksuite.com/open-apis/bot/v2/hook/0000-file-hook" || !lark.MentionAll || lark.MentionUsers[0] != "ou_0123456789abcdef" || lark.Timeout.D() != 5*time.Second {
		t.Errorf("lark = %+v", lark)
	}
	paces := []time.Duration{DefaultWeComPace, DefaultDingTalkPace, DefaultFeishuPace, 10 * time.Second, 0}
	for i, r := range c.Receivers {
		if r.Pace != paces[i] {
			t.Errorf("%s: pace %v, want %v", r.Name, r.Pace, paces[i])
		}
	}
	if r := c.Receivers[3].Retry; r.Initial != 2*time.Second || r.Max != 5*time.Minute {
		t.Errorf("lark retry = %+v", r)
	}
	if hook.BodyTemplateLine != 31 || !strings.HasPrefix(hook.BodyTemplate, `{"routing_key"`) || hook.Headers["Authorization"].Reveal() != vars["PD_AUTH"] {
		t.Errorf("webhook template at line %d, headers %v", hook.BodyTemplateLine, hook.Headers)
	}
	secrets := map[string]bool{}
	for _, s := range c.Secrets() {
		secrets[s.Reveal()] = true
	}
	for k, v := range vars {
		if !secrets[v] {
			t.Errorf("%s is not among the secrets to redact", k)
		}
	}
	if lark.Secret.Reveal() != "lark-file-secret-0123" {
		t.Errorf("secret_file: %q", lark.Secret.Reveal())
	}
	if !secrets["https://open.larksuite.com/open-apis/bot/v2/hook/0000-file-hook"] || !secrets["lark-file-secret-0123"] {
		t.Error("webhook_url_file's URL is not among the secrets to redact")
	}
}

func TestParseChatBotErrors(t *testing.T) {
	path := filepath.Join("testdata", "bad", "chatbot-errors.yaml")
	_, err := parseFile(t, path, nil)
	want := []string{
		path + `:6: receiver "wecom": webhook_url must be an http:// or https:// URL`,
		path + `:7: unknown key "secret"`,
		path + `:8: receiver "wecom": mention_mobiles: "138 0000 0000" is not a mobile number`,
		path + `:12: receiver "ding": secret is empty: environment variable UNSET_DING_SECRET is not set`,
		path + `:13: receiver "ding": mention_users: "<@all>" is not a user id`,
		path + `:14: receiver "feishu": webhook_url is required`,
		path + `:16: unknown key "mention_mobiles"`,
		path + `:21: receiver "hook": headers: Host is set by imalert`,
		path + `:22: receiver "hook": headers: "Bad Header" is not a valid header name`,
		path + `:23: receiver "hook": body_template must not be empty`,
	}
	var es yamlfile.Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v, want yamlfile.Errors", err)
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("errors do not contain %q; got:\n%s", w, got)
		}
	}
	if len(es) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(es), len(want), got)
	}
}
