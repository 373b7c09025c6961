package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/check-secret-value")
	t.Setenv("SMTP_PASSWORD", "check-password-value")
	tests := []struct {
		name       string
		args       []string
		code       int
		stdoutHas  string
		stderrHave []string
	}{
		{"built-in", []string{"check"}, 0, "built-in config: OK: 1 app(s), 1 receiver(s), 4 rule(s) in 1 file(s)", nil},
		{"issue config", []string{"check", "--config", "testdata/good/imalert.yaml"}, 0,
			"testdata/good/imalert.yaml: OK: 1 app(s), 3 receiver(s), 1 rule(s) in 1 file(s)", nil},
		{"bad config and rules", []string{"check", "--config", "testdata/bad/imalert.yaml"}, 1, "", []string{
			"warning: testdata/bad/imalert.yaml: app 1400000000 has no tokens: its callbacks are accepted unsigned",
			"testdata/bad/imalert.yaml:8: receiver \"ops-slack\": webhook_url is empty: environment variable IMALERT_TEST_UNSET_VAR is not set\n",
			"testdata/bad/imalert.yaml:9: unknown key \"chanel\" (did you mean \"channel\"?)\n",
			"testdata/bad/rules/im.yaml:9: rule \"group-rate-limit\": unknown receiver \"ops-mail\"\n",
		}},
		{"missing file", []string{"check", "--config", "testdata/nope.yaml"}, 1, "", []string{"testdata/nope.yaml: no such file or directory"}},
		{"stray argument", []string{"check", "extra"}, 2, "", []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdoutHas) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.stdoutHas)
			}
			for _, w := range tt.stderrHave {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not contain %q; got:\n%s", w, stderr.String())
				}
			}
			if len(tt.stderrHave) > 0 && strings.Count(stderr.String(), "\n") != len(tt.stderrHave) {
				t.Errorf("stderr has %d lines, want %d:\n%s", strings.Count(stderr.String(), "\n"), len(tt.stderrHave), stderr.String())
			}
			for _, secret := range []string{"check-secret-value", "check-password-value"} {
				if strings.Contains(stdout.String()+stderr.String(), secret) {
					t.Errorf("output contains a secret")
				}
			}
		})
	}
}
