package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

// SIGTERM while Slack hangs: the daemon exits by its shutdown timeout,
// cleanly, and the undelivered page goes out at the next start.
func TestShutdownLeavesTheRestForNextStart(t *testing.T) {
	t.Parallel()
	slack := testutil.NewSlack(t)
	slack.Fail(testutil.SlackFault{Delay: 20 * time.Second})
	dir := t.TempDir()
	cfg := `listen: 127.0.0.1:0
data_dir: data
apps:
  - sdkappid: 1400000000
rule_files: [rules.yaml]
server: {shutdown_timeout: 1s}
receivers:
  - name: ops-slack
    type: slack
    webhook_url: ${SLACK_WEBHOOK_URL}
    timeout: 10s
`
	rule := "rules:\n  - name: r\n    match: {error_code: 10023}\n    group_by: [GroupId]\n    receivers: [ops-slack]\n"
	for name, content := range map[string]string{"imalert.yaml": cfg, "rules.yaml": rule} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"SLACK_WEBHOOK_URL=" + slack.WebhookURL()}
	args := []string{"serve", "--config", filepath.Join(dir, "imalert.yaml")}
	d := testutil.StartDaemon(t, env, args...)
	postSample(t, d.URL("/callback"+sampleQuery), "../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	deadline := time.Now().Add(5 * time.Second)
	for len(slack.Attempts()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(slack.Attempts()) == 0 {
		t.Fatal("no delivery attempt")
	}
	start := time.Now()
	d.Signal(15)
	if code := d.Wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, d.Stderr())
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("shutdown took %v with a 1s shutdown timeout", took)
	}
	if n := len(slack.Messages()); n != 0 {
		t.Fatalf("%d messages delivered by a hanging Slack", n)
	}
	d = testutil.StartDaemon(t, env, args...)
	if msgs := slack.WaitMessages(1, 10*time.Second); len(msgs) != 1 {
		t.Fatalf("the page was not delivered after the restart:\n%s", d.Stderr())
	}
}
