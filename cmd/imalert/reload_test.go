package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/testutil"
)

// reloadSetup writes a config printing pages to the console, with its
// rules in rules/im.yaml, and returns the config path and the rule file.
func reloadSetup(t *testing.T, rules string) (cfg, ruleFile string) {
	t.Helper()
	dir := t.TempDir()
	cfg = filepath.Join(dir, "imalert.yaml")
	ruleFile = filepath.Join(dir, "rules", "im.yaml")
	if err := os.MkdirAll(filepath.Dir(ruleFile), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, "listen: 127.0.0.1:0\napps: [{sdkappid: 1400000000}]\nrule_files: [rules/*.yaml]\nreceivers: [{name: console, type: console}]\n")
	writeFile(t, ruleFile, rules)
	return cfg, ruleFile
}

// writeFile replaces path as editors do: write a temporary file, rename it
// over the old one.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func rateLimitRule(name string) string {
	return "rules:\n  - name: " + name + `
    match:
      callback_command: Group.CallbackSendMsgException
      error_code: 10023
    group_by: [GroupId]
    throttle: 1h
    receivers: [console]
`
}

// brokenRules has two errors; a reload must report both.
const brokenRules = `rules:
  - name: rate-limit-v2
    match:
      error_code: 10023
      from_account: {regex: "(bot"}
    receivers: [console, nobody]
`

// postGroup posts the doc sample with its GroupId replaced.
func postGroup(t *testing.T, d *testutil.Daemon, group string) {
	t.Helper()
	body, err := os.ReadFile("../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	body = bytes.Replace(body, []byte("@TGS#2J4SZEAEL"), []byte(group), 1)
	// A distinct Random: identical callbacks are de-duplicated, not throttled.
	body = bytes.Replace(body, []byte(`"Random": 123456`), []byte(`"Random": `+strconv.FormatInt(123456+sampleSeq.Add(1), 10)), 1)
	resp, err := http.Post(d.URL("/callback"+sampleQuery), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("callback answered %d", resp.StatusCode)
	}
}

type reloadAnswer struct {
	Status string   `json:"status"`
	Errors []string `json:"errors"`
}

func postReload(t *testing.T, d *testutil.Daemon) (int, reloadAnswer) {
	t.Helper()
	resp, err := http.Post(d.URL("/-/reload"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a reloadAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("reload answer: %v", err)
	}
	return resp.StatusCode, a
}

// metric returns the value of the sample named exactly name (with its
// labels, as /metrics writes them), or -1 when absent.
func metric(t *testing.T, d *testutil.Daemon, name string) float64 {
	t.Helper()
	resp, err := http.Get(d.URL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// waitMetric polls until the metric has the value.
func waitMetric(t *testing.T, d *testutil.Daemon, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := metric(t, d, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Good, broken, good again through POST /-/reload on the real binary: a
// broken rule file keeps the running rules and says why (answer, metric,
// log); unchanged rules keep their throttle windows across reloads.
func TestReloadGoodBrokenGood(t *testing.T) {
	t.Parallel()
	cfg, ruleFile := reloadSetup(t, rateLimitRule("rate-limit-v1"))
	d := testutil.StartDaemon(t, nil, "serve", "--config", cfg)
	if v := metric(t, d, "imalert_config_last_reload_successful"); v != 1 {
		t.Errorf("at start: last_reload_successful = %v, want 1", v)
	}

	postGroup(t, d, "@TGS#A")
	if !d.WaitStdout("PAGE [warning] 10023 rate-limit-v1 in @TGS#A", 1, 5*time.Second) {
		t.Fatalf("no page before any reload:\n%s", d.Stdout())
	}

	// Reloading the same rules keeps the throttle window of @TGS#A.
	if code, a := postReload(t, d); code != 200 || a.Status != "success" {
		t.Fatalf("reload of unchanged rules: %d %+v", code, a)
	}
	postGroup(t, d, "@TGS#A")
	waitMetric(t, d, `imalert_throttle_suppressed_total{rule="rate-limit-v1"}`, 1)

	// Broken: the old rules keep running, and the answer lists every error.
	writeFile(t, ruleFile, brokenRules)
	code, a := postReload(t, d)
	if code != 500 || a.Status != "error" || len(a.Errors) != 2 {
		t.Fatalf("reload of a broken file: %d %+v, want 500 with 2 errors", code, a)
	}
	for i, want := range []string{`im.yaml:5: rule "rate-limit-v2": from_account: bad regex "(bot"`, `im.yaml:6: rule "rate-limit-v2": unknown receiver "nobody"`} {
		if !strings.HasSuffix(a.Errors[i], want) && !strings.Contains(a.Errors[i], want) {
			t.Errorf("error %d = %q, want %q", i, a.Errors[i], want)
		}
	}
	if v := metric(t, d, "imalert_config_last_reload_successful"); v != 0 {
		t.Errorf("after a failed reload: last_reload_successful = %v, want 0", v)
	}
	waitLog(t, d, 1, `msg="reload failed: running rules kept"`, "trigger=api", `im.yaml:5: rule \"rate-limit-v2\": from_account: bad regex`)
	postGroup(t, d, "@TGS#B")
	if !d.WaitStdout("PAGE [warning] 10023 rate-limit-v1 in @TGS#B", 1, 5*time.Second) {
		t.Fatalf("the running rules stopped after a failed reload:\n%s", d.Stdout())
	}
	lastGood := metric(t, d, "imalert_config_last_reload_success_timestamp_seconds")

	// Good again: the new rules run.
	writeFile(t, ruleFile, rateLimitRule("rate-limit-v2"))
	if code, a := postReload(t, d); code != 200 || a.Status != "success" {
		t.Fatalf("reload after the fix: %d %+v", code, a)
	}
	postGroup(t, d, "@TGS#C")
	if !d.WaitStdout("PAGE [warning] 10023 rate-limit-v2 in @TGS#C", 1, 5*time.Second) {
		t.Fatalf("the new rules do not run:\n%s", d.Stdout())
	}
	if v := metric(t, d, "imalert_config_last_reload_successful"); v != 1 {
		t.Errorf("after the fix: last_reload_successful = %v, want 1", v)
	}
	if v := metric(t, d, "imalert_config_last_reload_success_timestamp_seconds"); v < lastGood {
		t.Errorf("success timestamp went back: %v < %v", v, lastGood)
	}
	for name, want := range map[string]float64{
		`imalert_config_reloads_total{result="success",trigger="api"}`: 2,
		`imalert_config_reloads_total{result="failure",trigger="api"}`: 1,
		`imalert_rules_loaded`: 1,
	} {
		if got := metric(t, d, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// A rule file changed on disk reloads by itself; SIGHUP reloads too.
func TestReloadWatchAndSignal(t *testing.T) {
	t.Parallel()
	cfg, ruleFile := reloadSetup(t, rateLimitRule("rate-limit-v1"))
	d := testutil.StartDaemon(t, nil, "serve", "--config", cfg)
	waitLog(t, d, 1, `msg="watching rule files"`)

	writeFile(t, ruleFile, rateLimitRule("rate-limit-v2"))
	waitLog(t, d, 1, `msg="rules reloaded"`, "rules=1")
	postGroup(t, d, "@TGS#A")
	if !d.WaitStdout("PAGE [warning] 10023 rate-limit-v2 in @TGS#A", 1, 5*time.Second) {
		t.Fatalf("the changed file was not loaded:\n%s", d.Stdout())
	}

	writeFile(t, ruleFile, brokenRules)
	waitLog(t, d, 1, `msg="reload failed: running rules kept"`, "trigger=watch")
	waitMetric(t, d, "imalert_config_last_reload_successful", 0)
	postGroup(t, d, "@TGS#B")
	if !d.WaitStdout("PAGE [warning] 10023 rate-limit-v2 in @TGS#B", 1, 5*time.Second) {
		t.Fatalf("a broken file stopped the running rules:\n%s", d.Stdout())
	}

	// A new rule file in the directory is picked up too.
	writeFile(t, ruleFile, rateLimitRule("rate-limit-v2"))
	writeFile(t, filepath.Join(filepath.Dir(ruleFile), "more.yaml"), strings.ReplaceAll(rateLimitRule("rate-limit-v3"), "10023", "10017"))
	waitMetric(t, d, "imalert_rules_loaded", 2)
	waitMetric(t, d, "imalert_config_last_reload_successful", 1)

	// SIGHUP reloads; the daemon that answers the metric after it is
	// alive (SIGHUP's default action would have ended it).
	d.Signal(1)
	waitMetric(t, d, `imalert_config_reloads_total{result="success",trigger="signal"}`, 1)
}

// waitLog waits until n lines of the daemon's log contain every one of
// substrs.
func waitLog(t *testing.T, d *testutil.Daemon, n int, substrs ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		count := 0
		for _, line := range strings.Split(d.Stderr(), "\n") {
			all := true
			for _, s := range substrs {
				all = all && strings.Contains(line, s)
			}
			if all {
				count++
			}
		}
		if count >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %d line(s) with %q:\n%s", n, substrs, d.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Rotating an app's token takes a reload, not a restart: after SIGHUP the
// new token verifies and the revoked one is refused at once.
func TestReloadRotatesTokens(t *testing.T) {
	t.Parallel()
	cfg, _ := reloadSetup(t, rateLimitRule("rate-limit"))
	withToken := func(tokens string) string {
		return "listen: 127.0.0.1:0\napps: [{sdkappid: 1400000000, tokens: [" + tokens + "]}]\nrule_files: [rules/*.yaml]\nreceivers: [{name: console, type: console}]\n"
	}
	writeFile(t, cfg, withToken("old-token-1a2b"))
	d := testutil.StartDaemon(t, nil, "serve", "--config", cfg)
	post := func(token string) int {
		t.Helper()
		rt := strconv.FormatInt(time.Now().Unix(), 10)
		body := `{"GroupId":"@TGS#R","Type":"Public","Random":` + strconv.FormatInt(sampleSeq.Add(1), 10) + `,"ErrorCode":10023,"EventTime":1}`
		resp, err := http.Post(d.URL("/callback"+sampleQuery+"&RequestTime="+rt+"&Sign="+callback.Sign(token, rt)), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("old-token-1a2b"); got != 200 {
		t.Fatalf("old token before the reload: %d", got)
	}
	writeFile(t, cfg, withToken("new-token-3c4d"))
	d.Signal(syscall.SIGHUP)
	waitLog(t, d, 1, "callback tokens reloaded")
	if got := post("new-token-3c4d"); got != 200 {
		t.Errorf("new token after the reload: %d, want 200", got)
	}
	if got := post("old-token-1a2b"); got != 401 {
		t.Errorf("revoked token after the reload: %d, want 401", got)
	}
	// A change a reload does not apply is said, not silently ignored.
	writeFile(t, cfg, withToken("new-token-3c4d")+"throttle: {max_keys: 7}\n")
	d.Signal(syscall.SIGHUP)
	waitLog(t, d, 1, "changed settings apply at the next restart", "settings=[throttle.max_keys]")
}
