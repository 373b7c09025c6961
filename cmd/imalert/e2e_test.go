package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

const sampleQuery = "?SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=json&ClientIP=10.0.0.1&OptPlatform=RESTAPI"

// writeSetup writes a config and rule file like the ones of the README into
// a temporary directory, with a short throttle window.
func writeSetup(t *testing.T, smtp *testutil.SMTP, throttle string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := `listen: 127.0.0.1:0
callback_path: /callback
apps:
  - sdkappid: 1400000000
rule_files:
  - rules/*.yaml
receivers:
  - name: console
    type: console
  - name: ops-slack
    type: slack
    webhook_url: ${SLACK_WEBHOOK_URL}
  - name: ops-mail
    type: email
    smtp_host: 127.0.0.1
    smtp_port: ` + strconv.Itoa(smtp.Port()) + `
    tls: none
    username: imalert
    password: ${SMTP_PASSWORD}
    from: imalert@example.com
    to: [oncall@example.com]
`
	rules := `rules:
  - name: group-rate-limit
    match:
      callback_command: Group.CallbackSendMsgException
      error_code: [10023]
      group_type: [Public, AVChatRoom]
    group_by: [GroupId]
    throttle: ` + throttle + `
    severity: warning
    receivers: [ops-slack, ops-mail]
`
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"imalert.yaml": cfg, "rules/im.yaml": rules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "imalert.yaml")
}

// sampleSeq makes every posted sample a distinct event (its Random), as
// IM's are: an identical repeat would be de-duplicated, not throttled.
var sampleSeq atomic.Int64

func postSample(t *testing.T, url, file string) {
	t.Helper()
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	body = bytes.Replace(body, []byte(`"Random": 123456`), []byte(`"Random": `+strconv.FormatInt(123456+sampleSeq.Add(1), 10)), 1)
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}` {
		t.Fatalf("callback answer %d %s", resp.StatusCode, got)
	}
}

// The walking skeleton end to end: the real binary, a Slack-like server and
// an SMTP server on loopback. One callback pages once on each receiver; a
// repeat inside the throttle window pages nowhere; the first page after the
// window reports what was suppressed.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	slack := testutil.NewSlack(t)
	smtp := testutil.NewSMTP(t)
	cfg := writeSetup(t, smtp, "2s")
	const password = "e2e-smtp-password-value"
	d := testutil.StartDaemon(t, []string{"SLACK_WEBHOOK_URL=" + slack.WebhookURL(), "SMTP_PASSWORD=" + password},
		"serve", "--config", cfg)
	url := d.URL("/callback" + sampleQuery)
	sample := "../../callback/testdata/samples/send-msg-exception.doc-sample.json"

	// One callback, and a repeat at once, inside the window: the repeat is
	// acknowledged, counted and not paged. The count is the evidence that
	// the repeat was processed; posting it at once keeps it inside the
	// window however long the first page takes.
	postSample(t, url, sample)
	received := time.Now() // the first callback is in: its window ends before received+2s
	postSample(t, url, sample)
	waitMetric(t, d, `imalert_throttle_suppressed_total{rule="group-rate-limit"}`, 1)
	msgs := slack.WaitMessages(1, 10*time.Second)
	mails := smtp.WaitMails(1, 10*time.Second)
	if len(msgs) != 1 || len(mails) != 1 {
		t.Fatalf("after a callback and its repeat: %d Slack messages, %d mails; want 1 and 1", len(msgs), len(mails))
	}
	first := mails[0].Decode(t)
	for what, text := range map[string]string{"slack": payloadText(t, msgs[0]), "mail text": first.Subject + first.Text, "mail html": first.HTML} {
		if !strings.Contains(text, "10023") || !strings.Contains(text, "@TGS#2J4SZEAEL") {
			t.Errorf("%s page lacks the code or the group id:\n%s", what, text)
		}
		if strings.Contains(text, "suppressed") {
			t.Errorf("%s: the first page reports the repeat held back after it:\n%s", what, text)
		}
	}
	if mails[0].User != "imalert" || mails[0].To[0] != "oncall@example.com" {
		t.Errorf("mail auth user %q to %v", mails[0].User, mails[0].To)
	}

	// After the window: the next page carries the suppressed count.
	time.Sleep(time.Until(received.Add(2100 * time.Millisecond)))
	postSample(t, url, sample)
	msgs = slack.WaitMessages(2, 10*time.Second)
	mails = smtp.WaitMails(2, 10*time.Second)
	if len(msgs) != 2 || len(mails) != 2 {
		t.Fatalf("after the window: %d Slack messages, %d mails; want 2 and 2", len(msgs), len(mails))
	}
	if text := payloadText(t, msgs[1]); !strings.Contains(text, "1 more suppressed since") {
		t.Errorf("second Slack page does not report the suppressed event:\n%s", text)
	}
	if second := mails[1].Decode(t); !strings.HasSuffix(second.Subject, "(+1 suppressed)") || !strings.Contains(second.Text, "1 more suppressed since") {
		t.Errorf("second mail does not report the suppressed event:\n%s\n%s", second.Subject, second.Text)
	}
	if strings.Contains(d.Stderr()+d.Stdout(), password) || strings.Contains(d.Stderr(), slack.WebhookURL()) {
		t.Error("a secret reached the daemon's output")
	}

	// SIGTERM: clean exit.
	d.Signal(15)
	if code := d.Wait(10 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}

// The daemon runs on its built-in defaults and prints the page to stdout.
func TestServeDefaults(t *testing.T) {
	t.Parallel()
	d := testutil.StartDaemon(t, nil, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	postSample(t, d.URL("/callback"+sampleQuery), "../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if !d.WaitStdout("PAGE [warning] 10023 group-rate-limit in @TGS#2J4SZEAEL (Public) from jared", 1, 5*time.Second) {
		t.Fatalf("no console page; stdout:\n%s", d.Stdout())
	}
	d.Signal(2)
	if code := d.Wait(10 * time.Second); code != 0 {
		t.Errorf("exit code after SIGINT = %d, want 0", code)
	}
}

// payloadText is every string of a Slack message as Slack reads it.
func payloadText(t *testing.T, m testutil.SlackMessage) string {
	t.Helper()
	return strings.Join(testutil.JSONStrings(m.Payload), "\n")
}

// A rule's fallback through the real binary: Slack keeps failing, so after
// the fallback time the page goes out by mail instead, and the outbox lists
// the Slack notification as rerouted.
func TestFallbackEndToEnd(t *testing.T) {
	t.Parallel()
	slack := testutil.NewSlack(t)
	faults := make([]testutil.SlackFault, 200)
	for i := range faults {
		faults[i] = testutil.SlackFault{Status: 500}
	}
	slack.Fail(faults...)
	smtp := testutil.NewSMTP(t)
	dir := t.TempDir()
	cfg := `listen: 127.0.0.1:0
apps:
  - sdkappid: 1400000000
rule_files: [rules.yaml]
receivers:
  - name: ops-slack
    type: slack
    webhook_url: ` + slack.WebhookURL() + `
    retry: {initial: 100ms, max: 200ms}
    pace: 50ms
  - name: ops-mail
    type: email
    smtp_host: 127.0.0.1
    smtp_port: ` + strconv.Itoa(smtp.Port()) + `
    tls: none
    from: imalert@example.com
    to: [oncall@example.com]
`
	rules := `rules:
  - name: group-rate-limit
    match: {error_code: 10023}
    group_by: [GroupId]
    receivers: [ops-slack]
    fallback: {receiver: ops-mail, after: 1s}
`
	for name, content := range map[string]string{"imalert.yaml": cfg, "rules.yaml": rules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "imalert.yaml")
	d := testutil.StartDaemon(t, nil, "serve", "--config", path)
	start := time.Now()
	postSample(t, d.URL("/callback"+sampleQuery), "../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	mails := smtp.WaitMails(1, 10*time.Second)
	if len(mails) != 1 {
		t.Fatalf("no mail from the fallback:\n%s", d.Stderr())
	}
	took := time.Since(start)
	if m := mails[0].Decode(t); !strings.Contains(m.Subject, "10023 group-rate-limit for group @TGS#2J4SZEAEL") {
		t.Errorf("fallback mail subject %q", m.Subject)
	}
	if took < time.Second {
		t.Errorf("fallback after %v, before the rule's 1s", took)
	}
	if len(slack.Messages()) != 0 || len(slack.Attempts()) < 3 {
		t.Errorf("Slack: %d messages, %d attempts; want none delivered and several tried", len(slack.Messages()), len(slack.Attempts()))
	}
	code, out, errOut := testutil.Run(t, nil, "deliveries", "--config", path, "--state", "rerouted")
	if code != 0 || !strings.Contains(out, "rerouted") || !strings.Contains(out, "ops-slack") {
		t.Errorf("deliveries --state rerouted: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("fallback mail %v after the callback, after %d Slack attempts", took.Round(10*time.Millisecond), len(slack.Attempts()))
}

// IM retries a callback whose answer it did not see, possibly after
// imalert restarted: the retry is acknowledged and not processed again,
// because the journal tells the restarted daemon what it already took.
func TestRetryAcrossRestartIsNotProcessedTwice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "imalert.yaml")
	if err := os.WriteFile(cfg, []byte(`listen: 127.0.0.1:0
apps: [{sdkappid: 1400000000}]
rule_files: [rules.yaml]
receivers: [{name: console, type: console}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(`rules:
  - name: every-event
    match: {error_code: 10023}
    throttle: 0s
    receivers: [console]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	send := func(d *testutil.Daemon) {
		t.Helper()
		resp, err := http.Post(d.URL("/callback"+sampleQuery), "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("answer %d", resp.StatusCode)
		}
	}
	first := testutil.StartDaemon(t, nil, "serve", "--config", cfg)
	send(first)
	if !first.WaitStdout("PAGE ", 1, 5*time.Second) {
		t.Fatalf("no page from the first copy")
	}
	first.Signal(15)
	if code := first.Wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	second := testutil.StartDaemon(t, nil, "serve", "--config", cfg)
	send(second) // the retry
	// Acknowledged as a duplicate, so never processed; a new event after
	// it pages, and proves the daemon had taken up the retry before.
	waitMetric(t, second, "imalert_callback_duplicates_total", 1)
	body = bytes.Replace(body, []byte(`"Random": 123456`), []byte(`"Random": 654321`), 1)
	send(second)
	if !second.WaitStdout("PAGE ", 1, 5*time.Second) {
		t.Fatalf("no page for the new event after the restart:\n%s", second.Stderr())
	}
	if n := strings.Count(second.Stdout(), "PAGE "); n != 1 {
		t.Errorf("%d pages after the restart, want 1 (the new event's): the retry was processed again:\n%s", n, second.Stdout())
	}
}

// A page Slack refuses for good (404: the webhook is gone) becomes a dead
// letter at once: kept, counted, and listed by imalert deliveries.
func TestDeadLetterEndToEnd(t *testing.T) {
	t.Parallel()
	slack := testutil.NewSlack(t)
	slack.Fail(testutil.SlackFault{Status: 404})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "imalert.yaml")
	if err := os.WriteFile(cfg, []byte(`listen: 127.0.0.1:0
apps: [{sdkappid: 1400000000}]
rule_files: [rules.yaml]
receivers:
  - name: ops-slack
    type: slack
    webhook_url: `+slack.WebhookURL()+`
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte("rules:\n  - name: group-rate-limit\n    match: {error_code: 10023}\n    receivers: [ops-slack]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := testutil.StartDaemon(t, nil, "serve", "--config", cfg)
	postSample(t, d.URL("/callback"+sampleQuery), "../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	deadline := time.Now().Add(10 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		_, out, _ = testutil.Run(t, nil, "deliveries", "--config", cfg)
		if strings.Contains(out, "ops-slack") { // "no dead letters ..." until there is one
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(out, "dead") || !strings.Contains(out, "ops-slack") || !strings.Contains(out, "HTTP 404") {
		t.Fatalf("imalert deliveries does not list the dead letter:\n%s\n%s", out, d.Stderr())
	}
	if len(slack.Attempts()) != 1 {
		t.Errorf("%d attempts at a permanent failure, want 1", len(slack.Attempts()))
	}
	if !strings.Contains(d.Stderr(), "notification given up: dead letter") {
		t.Errorf("the dead letter is not logged:\n%s", d.Stderr())
	}
	if strings.Contains(out+d.Stderr(), slack.WebhookURL()) {
		t.Error("the webhook URL reached the output")
	}
}
