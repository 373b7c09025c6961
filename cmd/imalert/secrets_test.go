package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/testutil"
)

// Known secret values: none may appear in the daemon's log, its answers,
// or check's output, whatever fails.
const (
	secretIMToken    = "im-callback-token-7f3a9c1e"
	secretBotToken   = "xoxb-bot-token-5d2b8e4f"
	secretSMTPPass   = "smtp-password-9a1c3e5g"
	secretAdminToken = "admin-token-2e4f6a8c"
	secretHookPath   = "/webhook/pager-path-3c5e7a9b"
	secretHookHMAC   = "webhook-hmac-secret-8b0d2f4h"
)

func writeSecretSetup(t *testing.T, slack *testutil.Slack, mail *testutil.SMTP, extra string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"slack.url":     slack.WebhookURL() + "\n",
		"smtp.password": secretSMTPPass + "\n",
		"admin.token":   secretAdminToken + "\n",
		"rules/im.yaml": `rules:
  - name: everything
    match:
      callback_command: Group.CallbackSendMsgException
    throttle: 1s
    receivers: [ops-slack, ops-bot, ops-mail, pager]
`,
		"imalert.yaml": `listen: 127.0.0.1:0
apps:
  - sdkappid: 1400000000
    tokens: [${IM_CALLBACK_TOKEN}, ${IM_CALLBACK_TOKEN_PREVIOUS}]
rule_files: [rules/*.yaml]
log: {level: debug}
admin:
  listen: 127.0.0.1:0
  token_file: admin.token
receivers:
  - name: ops-slack
    type: slack
    webhook_url_file: slack.url
  - name: ops-bot
    type: slack
    token: ${SLACK_BOT_TOKEN}
    channel: C123
    api_url: ` + slack.APIURL() + `
  - name: ops-mail
    type: email
    smtp_host: 127.0.0.1
    smtp_port: ` + strconv.Itoa(mail.Port()) + `
    tls: none
    username: imalert
    password_file: smtp.password
    from: imalert@example.com
    to: [oncall@example.com]
  - name: pager
    type: webhook
    url: ` + slack.URL + secretHookPath + `
    secret: ${PAGER_HMAC_SECRET}
` + extra,
	}
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "imalert.yaml")
}

var adminAddrRE = regexp.MustCompile(`admin_addr=(\S+)`)

// The daemon runs with every kind of secret, every delivery fails at least
// once, callbacks are forged and admin requests made without and with the
// token; then check runs on good and broken configs. No secret value
// appears anywhere.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	slack := testutil.NewSlack(t)
	mail := testutil.NewSMTP(t)
	slack.Fail(testutil.SlackFault{Status: 500}, testutil.SlackFault{Status: 503}, testutil.SlackFault{Status: 502})
	mail.Refuse(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again"})
	cfg := writeSecretSetup(t, slack, mail, "")
	secrets := []string{secretIMToken, secretBotToken, secretSMTPPass, secretAdminToken,
		slack.WebhookURL(), strings.TrimPrefix(slack.WebhookURL(), slack.URL), secretHookPath, secretHookHMAC}
	env := []string{"IM_CALLBACK_TOKEN=" + secretIMToken, "SLACK_BOT_TOKEN=" + secretBotToken, "PAGER_HMAC_SECRET=" + secretHookHMAC}

	d := testutil.StartDaemon(t, env, "serve", "--config", cfg)
	m := adminAddrRE.FindStringSubmatch(d.Stderr())
	if m == nil || m[1] == d.Addr {
		t.Fatalf("no separate admin address in the log:\n%s", d.Stderr())
	}
	adminURL := "http://" + m[1]
	var answers []string
	do := func(method, url, body, bearer string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answers = append(answers, resp.Status+" "+string(b))
		for k, v := range resp.Header {
			answers = append(answers, k+": "+strings.Join(v, ","))
		}
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d, want %d: %s", method, url, resp.StatusCode, want, b)
		}
	}
	sample, err := os.ReadFile("../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	rt := strconv.FormatInt(time.Now().Unix(), 10)
	q := "/callback" + sampleQuery + "&RequestTime=" + rt + "&Sign="
	do("POST", d.URL(q+callback.Sign(secretIMToken, rt)), string(sample), "", 200)
	do("POST", d.URL(q+callback.Sign("guess", rt)), string(sample), "", 401)
	do("POST", d.URL("/callback"+sampleQuery), string(sample), "", 401)
	do("GET", d.URL("/metrics"), "", secretAdminToken, 404)
	do("GET", adminURL+"/metrics", "", "", 401)
	do("GET", adminURL+"/metrics", "", "wrong-"+secretAdminToken, 401)
	do("GET", adminURL+"/metrics", "", secretAdminToken, 200)
	do("GET", d.URL("/-/healthy"), "", "", 200)

	// Wait until every receiver failed once and the retries went through.
	if len(slack.WaitMessages(3, 15*time.Second)) < 3 || len(mail.WaitMails(1, 15*time.Second)) < 1 {
		t.Fatalf("deliveries did not go through:\n%s", d.Stderr())
	}
	do("GET", adminURL+"/metrics", "", secretAdminToken, 200)
	do("GET", adminURL+"/api/v1/deliveries?state=sent", "", secretAdminToken, 200)
	do("GET", adminURL+"/api/v1/deliveries", "", "", 401)
	d.Signal(15)
	if code := d.Wait(10 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	log := d.Stderr() + d.Stdout()
	for _, want := range []string{"delivery attempt failed", "HTTP 50", "smtp_451", "delivered after retries"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q: the failures this test relies on did not happen", want)
		}
	}

	// check, on the good config and on broken ones that misplace secrets.
	outputs := []string{log, strings.Join(answers, "\n")}
	for _, extra := range []string{"", "callback:\n  allow_cidrs: [${IM_CALLBACK_TOKEN}]\n", "bogus_key: ${SLACK_BOT_TOKEN}\nserver:\n  max_body_bytes: ${IM_CALLBACK_TOKEN}\n"} {
		bad := writeSecretSetup(t, slack, mail, extra)
		code, out, errOut := testutil.Run(t, env, "check", "--config", bad)
		if (code == 0) != (extra == "") {
			t.Errorf("check exit %d for extra %q:\n%s", code, extra, errOut)
		}
		outputs = append(outputs, out+errOut)
	}
	for _, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("secret %q appears in:\n%s", s, out)
			}
		}
	}
}
