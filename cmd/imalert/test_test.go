package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

var update = flag.Bool("update", false, "rewrite the golden files of imalert test")

const (
	dryRunSlackURL  = "https://hooks.slack.com/services/T0/B0/dryrun-secret-value"
	dryRunSMTPValue = "dryrun-password-value"
)

// The golden files hold the whole output of imalert test: what each event
// matched, each decision with its reason and time left, and every
// receiver's rendering. Run `go test ./cmd/imalert -run DryRunGolden
// -update` after an intended change, and review the diff.
func TestDryRunGolden(t *testing.T) {
	t.Setenv("SLACK_WEBHOOK_URL", dryRunSlackURL)
	t.Setenv("SMTP_PASSWORD", dryRunSMTPValue)
	tests := []struct {
		name   string
		config []string // --config and its value, or nothing for the built-in config
		events string
		golden string
	}{
		{"rules, thresholds, first seen, exponential throttle, templates, refusals",
			[]string{"--config", "testdata/dryrun/imalert.yaml"}, "testdata/dryrun/events.jsonl", "testdata/dryrun/events.golden"},
		{"built-in config and rules on the samples", nil, "testdata/dryrun/builtin.jsonl", "testdata/dryrun/builtin.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"test"}, tt.config...)
			args = append(args, "--at", "2026-11-25T14:03:07Z")
			if !*update {
				args = append(args, "--expect", tt.golden)
			}
			args = append(args, tt.events)
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			if *update {
				if err := os.WriteFile(tt.golden, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if code != 0 {
				t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr.String())
			}
			for _, secret := range []string{dryRunSlackURL, "dryrun-secret-value", dryRunSMTPValue} {
				if strings.Contains(stdout.String()+stderr.String(), secret) {
					t.Errorf("output contains a secret")
				}
			}
		})
	}
}

// Flags may come after the events file, and the output does not depend on
// where they are.
func TestDryRunFlagOrder(t *testing.T) {
	t.Setenv("SLACK_WEBHOOK_URL", dryRunSlackURL)
	t.Setenv("SMTP_PASSWORD", dryRunSMTPValue)
	var stdout, stderr bytes.Buffer
	code := run([]string{"test", "testdata/dryrun/events.jsonl", "--config", "testdata/dryrun/imalert.yaml", "--at", "2026-11-25T14:03:07Z", "--expect", "testdata/dryrun/events.golden"}, &stdout, &stderr)
	if code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, stderr.String())
	}
}

func TestDryRunExpectMismatch(t *testing.T) {
	t.Setenv("SLACK_WEBHOOK_URL", dryRunSlackURL)
	t.Setenv("SMTP_PASSWORD", dryRunSMTPValue)
	golden, err := os.ReadFile("testdata/dryrun/events.golden")
	if err != nil {
		t.Fatal(err)
	}
	// Someone changed the rate-limit rule's throttle from 10m to 5m: the
	// golden file, written for 10m, catches it.
	changed := strings.Replace(string(golden), "decision: held (throttled): 1 suppressed in this 10m window, 9m30s left (until 14:13:07 UTC)",
		"decision: held (throttled): 1 suppressed in this 5m window, 4m30s left (until 14:08:07 UTC)", 1)
	if changed == string(golden) {
		t.Fatal("the golden file lacks the line this test edits")
	}
	path := filepath.Join(t.TempDir(), "expected.golden")
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"test", "--config", "testdata/dryrun/imalert.yaml", "--at", "2026-11-25T14:03:07Z", "--expect", path, "testdata/dryrun/events.jsonl"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "output differs from "+path) {
		t.Errorf("stderr lacks the golden file's name:\n%s", stderr.String())
	}
	// The expected line, then the line got, each whole; nothing else differs.
	var diff []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if l := strings.TrimLeft(line, " \u00a0\t"); strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+") {
			diff = append(diff, l)
		}
	}
	want := []string{
		"-" + `"    decision: held (throttled): 1 suppressed in this 5m window, 4m30s left (until 14:08:07 UTC)",`,
		"+" + `"    decision: held (throttled): 1 suppressed in this 10m window, 9m30s left (until 14:13:07 UTC)",`,
	}
	if len(diff) != len(want) {
		t.Fatalf("diff has %d changed lines, want 2:\n%s", len(diff), stderr.String())
	}
	for i := range want {
		if got := strings.Join(strings.Fields(strings.ReplaceAll(diff[i], "\u00a0", " ")), ""); got != strings.Join(strings.Fields(want[i]), "") {
			t.Errorf("changed line %d = %q, want %q", i+1, diff[i], want[i])
		}
	}
}

func TestDryRunErrors(t *testing.T) {
	t.Setenv("SLACK_WEBHOOK_URL", dryRunSlackURL)
	t.Setenv("SMTP_PASSWORD", dryRunSMTPValue)
	dir := t.TempDir()
	badLines := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(badLines, []byte(`not json
{"body": {"CallbackCommand": "Group.CallbackSendMsgException"}, "received_at": "yesterday"}
{"body": {}, "extra": 1}
{"CallbackCommand": "Group.CallbackAfterSendMsg"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdoutHas  []string
		stderrHas  []string
		stderrOnly bool
	}{
		{"malformed lines are reported and fail the run", []string{"--config", "testdata/dryrun/imalert.yaml", badLines}, 1,
			[]string{
				"event 1 (" + badLines + ":1): cannot read: not a JSON object",
				`event 2 (` + badLines + `:2): cannot read: received_at: want an RFC 3339 time or +DURATION, got "yesterday"`,
				`event 3 (` + badLines + `:3): cannot read: envelope: want {"query": {...}, "body": {...}, "received_at": ...}: json: unknown field "extra"`,
				"event 4 (" + badLines + ":4) at ",
			},
			[]string{"test: 3 line(s) of " + badLines + " could not be read"}, false},
		{"bad config", []string{"--config", "testdata/bad/imalert.yaml", badLines}, 1, nil,
			[]string{`testdata/bad/rules/im.yaml:9: rule "group-rate-limit": unknown receiver "ops-mail"`}, true},
		{"missing events file", []string{"--config", "testdata/dryrun/imalert.yaml", filepath.Join(dir, "nope.jsonl")}, 1, nil, []string{"no such file or directory"}, true},
		{"no events file", []string{"--config", "testdata/dryrun/imalert.yaml"}, 2, nil, []string{"usage: imalert test"}, true},
		{"two events files", []string{badLines, badLines}, 2, nil, []string{"usage: imalert test"}, true},
		{"bad --at", []string{"--at", "tomorrow", badLines}, 2, nil, []string{`--at: want an RFC 3339 time`}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"test"}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			for _, w := range tt.stdoutHas {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.stderrHas {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if tt.stderrOnly && stdout.Len() > 0 {
				t.Errorf("stdout should be empty:\n%s", stdout.String())
			}
		})
	}
}

// --from-journal runs the journal's recent callbacks, each at its receive
// time, through the rules: what was received before --since is left out.
func TestDryRunFromJournal(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Options{Dir: dir, Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	q := strings.TrimPrefix(sampleQuery, "?")
	now := time.Now()
	for _, at := range []time.Time{now.Add(-3 * time.Hour), now.Add(-time.Hour), now.Add(-time.Hour + time.Minute)} {
		if _, err := st.Append(context.Background(), callback.Raw{Query: q, Body: body, ReceivedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"test", "--from-journal", "--data-dir", dir, "--since", "2h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"event 1 (journal #2) at ",
		"decision: page (first)",
		"event 2 (journal #3) at ",
		"decision: held (throttled): 1 suppressed in this 10m window",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "journal #1") || strings.Count(out, "\nevent ") != 1 {
		t.Errorf("output has events from before --since:\n%s", out)
	}
	if code := run([]string{"test", "--from-journal", "events.jsonl"}, &stdout, &stderr); code != 2 {
		t.Errorf("--from-journal with a file: exit %d, want 2", code)
	}
}

// A digest rule's events are shown as counted into the summary, not as
// pages of their own.
func TestDryRunDigestRule(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"imalert.yaml": "apps: [{sdkappid: 1400000000}]\nrule_files: [rules.yaml]\nreceivers: [{name: console, type: console}]\n",
		"rules.yaml":   "rules:\n  - name: storm\n    match: {error_code: 10023}\n    digest: 10m\n    receivers: [console]\n",
		"events.jsonl": `{"CallbackCommand":"Group.CallbackSendMsgException","GroupId":"@TGS#1","ErrorCode":10023}` + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"test", "--config", filepath.Join(dir, "imalert.yaml"), filepath.Join(dir, "events.jsonl")}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, "decision: counted (digest): into the rule's summary every 10m") || strings.Contains(out, "PAGE") {
		t.Errorf("digest rule in the dry run:\n%s", out)
	}
}
