package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

// The chat-bot receivers through the real binary, configured as the
// README writes them: one callback pages once on each loopback robot,
// signed where a secret is set, and no URL or secret reaches the output.
func TestChatBotsEndToEnd(t *testing.T) {
	wecom := testutil.NewChatBot(t, "/cgi-bin/webhook/send", "key=e2e-wecom-key-0123", `{"errcode":0,"errmsg":"ok"}`)
	ding := testutil.NewChatBot(t, "/robot/send", "access_token=e2e-ding-token-0123", `{"errcode":0,"errmsg":"ok"}`)
	feishu := testutil.NewChatBot(t, "/open-apis/bot/v2/hook/e2e-feishu-hook-0123", "", `{"code":0,"msg":"success"}`)
	dir := t.TempDir()
	cfg := `listen: 127.0.0.1:0
external_url: https://imalert.example.com
apps:
  - sdkappid: 1400000000
rule_files: [rules.yaml]
receivers:
  - name: ops-wecom
    type: wecom
    webhook_url: ${WECOM_WEBHOOK_URL}
    mention_mobiles: ["13800000000"]
  - name: ops-dingtalk
    type: dingtalk
    webhook_url: ${DINGTALK_WEBHOOK_URL}
    secret: ${DINGTALK_SECRET}
  - name: ops-feishu
    type: feishu
    webhook_url: ${FEISHU_WEBHOOK_URL}
    secret: ${FEISHU_SECRET}
`
	rules := `rules:
  - name: group-rate-limit
    match: {error_code: [10023]}
    group_by: [GroupId]
    throttle: 10m
    receivers: [ops-wecom, ops-dingtalk, ops-feishu]
`
	for name, content := range map[string]string{"imalert.yaml": cfg, "rules.yaml": rules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	secrets := []string{"e2e-wecom-key-0123", "e2e-ding-token-0123", "e2e-feishu-hook-0123", "SECe2e-ding-secret", "e2e-feishu-secret"}
	d := testutil.StartDaemon(t, []string{
		"WECOM_WEBHOOK_URL=" + wecom.URL, "DINGTALK_WEBHOOK_URL=" + ding.URL, "FEISHU_WEBHOOK_URL=" + feishu.URL,
		"DINGTALK_SECRET=" + secrets[3], "FEISHU_SECRET=" + secrets[4],
	}, "serve", "--config", filepath.Join(dir, "imalert.yaml"), "--data-dir", filepath.Join(dir, "data"))
	// DingTalk refuses the first page (as for a wrong secret): final, and
	// the log says what to check.
	ding.Script(`{"errcode":310000,"errmsg":"sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}`)
	postSample(t, d.URL("/callback"+sampleQuery), "../../callback/testdata/samples/send-msg-exception.doc-sample.json")

	w := wecom.WaitRequests(1, 10*time.Second)
	dt := ding.WaitRequests(1, 10*time.Second)
	f := feishu.WaitRequests(1, 10*time.Second)
	if len(w) != 1 || len(dt) != 1 || len(f) != 1 {
		t.Fatalf("requests: wecom %d, dingtalk %d, feishu %d; want 1 each", len(w), len(dt), len(f))
	}
	var wm struct {
		MsgType string
		Text    struct{ Content string }
	}
	_ = json.Unmarshal(w[0].Body, &wm)
	if wm.MsgType != "text" || !strings.Contains(wm.Text.Content, "10023") {
		t.Errorf("wecom: %s", w[0].Body)
	}
	if q := dt[0].Query; q.Get("sign") == "" || q.Get("timestamp") == "" || !strings.Contains(string(dt[0].Body), "@TGS#2J4SZEAEL") {
		t.Errorf("dingtalk: %v %s", q, dt[0].Body)
	}
	if b := string(f[0].Body); !strings.Contains(b, `"sign":`) || !strings.Contains(b, "https://imalert.example.com") || !strings.Contains(b, "interactive") {
		t.Errorf("feishu: %s", b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.Stderr(), "errcode 310000") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(d.Stderr(), "check the robot's security settings") {
		t.Errorf("the log does not say what to check after 310000:\n%s", d.Stderr())
	}
	time.Sleep(200 * time.Millisecond) // a final failure is not retried
	if n := len(ding.Requests()); n != 1 {
		t.Errorf("dingtalk: %d requests after a final failure, want 1", n)
	}
	out := d.Stdout() + d.Stderr()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%q reached the daemon's output", s)
		}
	}
	d.Signal(15)
	if code := d.Wait(10 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}

// imalert test shows each chat-bot page as its robot would receive it and
// sends nothing; the golden file is checked by eye.
func TestDryRunChatBots(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"test", "--config", "testdata/dryrun-chat/imalert.yaml", "--at", "2026-11-25T14:03:07Z",
		"--expect", "testdata/dryrun-chat/events.golden", "testdata/dryrun-chat/events.jsonl"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, secret := range []string{"dryrun-wecom-key", "dryrun-ding-token", "SECdryrun-ding-secret", "dryrun-feishu-hook"} {
		if strings.Contains(stdout.String()+stderr.String(), secret) {
			t.Errorf("%q reached the output", secret)
		}
	}
}
