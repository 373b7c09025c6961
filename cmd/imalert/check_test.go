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
		{"every error in rules, templates and codes", []string{"check", "--config", "testdata/badrules/imalert.yaml"}, 1, "", []string{
			"warning: testdata/badrules/imalert.yaml: app 1400000000 has no tokens: its callbacks are accepted unsigned",
			"testdata/badrules/imalert.yaml:9: codes: 10023: severity must be critical, warning or info, got \"urgent\"\n",
			"testdata/badrules/rules/im.yaml:4: rule \"burst\": error_code: range \"80004-80001\" is empty (80004 > 80001)\n",
			"testdata/badrules/rules/im.yaml:5: rule \"burst\": from_account: bad regex \"^(bot|test\": missing closing )\n",
			"testdata/badrules/rules/im.yaml:6: rule \"burst\": match: unknown field \"grup_type\" (did you mean \"group_type\"?)\n",
			"testdata/badrules/rules/im.yaml:7: threshold.within: invalid duration \"1x\"",
			"testdata/badrules/rules/im.yaml:8: rule \"burst\": throttle: max must be longer than window\n",
			"testdata/badrules/rules/im.yaml:9: rule \"burst\": unknown receiver \"ops-slack\"\n",
			"testdata/badrules/rules/im.yaml:10: rule \"burst\": title: unknown field .Sender\n",
			"testdata/badrules/rules/im.yaml:13: rule \"burst\": body: function \"trunc\" not defined\n",
			"testdata/badrules/rules/im.yaml:14: rule \"burst\" is already defined at testdata/badrules/rules/im.yaml:2\n",
			"testdata/badrules/rules/im.yaml:16: rule \"burst\": throttle: a first_seen rule pages once per key; throttle does not apply\n",
		}},
		{"rule files without a rule", []string{"check", "--config", "testdata/norules/imalert.yaml"}, 1, "", []string{
			"testdata/norules/imalert.yaml: no rules: the files rule_files matches hold no rule, so nothing would page\n",
		}},
		{"no rule files", []string{"check", "--config", "testdata/norules/nofiles.yaml"}, 1, "", []string{
			"testdata/norules/nofiles.yaml: no rules: rule_files is empty, so nothing would page\n",
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

// The shipped example config and rules are valid.
func TestCheckExample(t *testing.T) {
	t.Setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/x")
	t.Setenv("SMTP_PASSWORD", "x")
	t.Setenv("IM_CALLBACK_TOKEN", "example-token")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check", "--config", "../../config.example.yaml"}, &stdout, &stderr); code != 0 {
		t.Fatalf("check config.example.yaml: exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "4 rule(s) in 1 file(s)") {
		t.Errorf("stdout = %q", stdout.String())
	}
}
