package config

import (
	"strings"
	"testing"
)

// A config whose secrets come from the environment.
const secretsFromEnv = `apps:
  - sdkappid: 1
    tokens: [${IM_TOKEN}]
receivers:
  - name: slack
    type: slack
    webhook_url: ${SLACK_URL}
  - name: mail
    type: email
    smtp_host: ${SMTP_HOST}
    username: imalert
    password: ${SMTP_PASSWORD}
    from: imalert@example.com
    to: [a@example.com]
  - name: hook
    type: webhook
    url: ${HOOK_URL:-https://example.com/hook}
    secret: ${HOOK_SECRET}
    headers: {X-Api-Key: "${HOOK_KEY}"}
admin:
  token: ${ADMIN_TOKEN}
`

// Unset secrets load with a placeholder and a warning under
// AllowMissingSecrets, and are errors otherwise. A value that is not a
// secret, or has a default, is not filled in.
func TestAllowMissingSecrets(t *testing.T) {
	vars := map[string]string{"SMTP_HOST": "smtp.example.com"}
	secretVars := []string{"IM_TOKEN", "SLACK_URL", "SMTP_PASSWORD", "HOOK_SECRET", "ADMIN_TOKEN"}

	c, err := ParseWith("x.yaml", []byte(secretsFromEnv), env(vars), LoadOptions{AllowMissingSecrets: true})
	if err != nil {
		t.Fatalf("lenient load: %v", err)
	}
	all := strings.Join(c.Warnings, "\n")
	for _, v := range secretVars {
		if !strings.Contains(all, "environment variable "+v+" is not set: a placeholder stands in for it here") {
			t.Errorf("no warning for %s:\n%s", v, all)
		}
	}
	// HOOK_URL has a default; an empty header is no error for serve either.
	if strings.Contains(all, "HOOK_URL") || strings.Contains(all, "HOOK_KEY") || strings.Contains(all, "shorter than 16") {
		t.Errorf("unexpected warnings:\n%s", all)
	}
	if !strings.Contains(all, "x.yaml:7: environment variable SLACK_URL") {
		t.Errorf("the warning does not point at the line:\n%s", all)
	}
	if got := c.Receivers[0].Slack.WebhookURL.Reveal(); !strings.HasPrefix(got, "https://") {
		t.Errorf("webhook_url placeholder %q is not a URL", got)
	}
	if got := c.Receivers[2].Webhook.URL.Reveal(); got != "https://example.com/hook" {
		t.Errorf("a default gave way to a placeholder: %q", got)
	}
	if !c.Admin.Token.IsSet() || len(c.Apps[0].Tokens) != 1 {
		t.Errorf("admin token or app token not filled in")
	}

	// serve's load: every unset secret is an error.
	_, err = Parse("x.yaml", []byte(secretsFromEnv), env(vars))
	for _, v := range secretVars {
		if err == nil || !strings.Contains(err.Error(), v+" is not set") {
			t.Errorf("strict load: %s not reported: %v", v, err)
		}
	}

	// A value that is not a secret is still required.
	_, err = ParseWith("x.yaml", []byte(secretsFromEnv), env(nil), LoadOptions{AllowMissingSecrets: true})
	if err == nil || !strings.Contains(err.Error(), "smtp_host is empty: environment variable SMTP_HOST is not set") {
		t.Errorf("unset smtp_host: %v", err)
	}
}
