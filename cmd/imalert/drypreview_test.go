package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A receiver without a medium of its own is shown as it would be sent: a
// webhook's JSON body, with none of its secrets (URL, shared secret,
// headers).
func TestDryRunWebhookShowsItsBody(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("imalert.yaml", `apps:
  - sdkappid: 1400000000
rule_files: [rules.yaml]
receivers:
  - name: hook
    type: webhook
    url: https://hooks.example.com/in/url-secret-value
    secret: hmac-secret-value
    headers: {Authorization: "Bearer header-secret-value"}
`)
	write("rules.yaml", `rules:
  - name: rate-limit
    match: {callback_command: Group.CallbackSendMsgException, error_code: 10023}
    group_by: [GroupId]
    receivers: [hook]
`)
	events := write("events.jsonl", `{"CallbackCommand": "Group.CallbackSendMsgException", "GroupId": "@TGS#1", "From_Account": "jared", "ErrorCode": 10023}`+"\n")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"test", "--config", cfg, "--at", "2026-11-25T14:03:07Z", events}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"to hook (webhook):\n      body: {\n", `"rule": "rate-limit"`, `"group_id": "@TGS#1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"url-secret-value", "hmac-secret-value", "header-secret-value"} {
		if strings.Contains(out+stderr.String(), secret) {
			t.Errorf("output shows %s", secret)
		}
	}
}
