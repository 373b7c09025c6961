package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

const storeConfig = `listen: 127.0.0.1:0
data_dir: data
apps:
  - sdkappid: 1400000000
receivers:
  - name: console
    type: console
rule_files: [rules.yaml]
`

const storeRules = "rules:\n  - name: r\n    match: {error_code: 10023}\n    group_by: [GroupId]\n    receivers: [console]\n"

func writeStoreConfig(t *testing.T) (dir string, args []string) {
	t.Helper()
	dir = t.TempDir()
	for name, content := range map[string]string{"imalert.yaml": storeConfig, "rules.yaml": storeRules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, []string{"serve", "--config", filepath.Join(dir, "imalert.yaml")}
}

// runBounded runs the binary and returns its exit code and log, killing it
// if it is still running after a minute (it should have refused to start).
func runBounded(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testutil.Binary(t), args...)
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

// A damaged database stops serve before it listens, with an error that
// names the file and what to do.
func TestServeRefusesDamagedStore(t *testing.T) {
	dir, args := writeStoreConfig(t)
	d := testutil.StartDaemon(t, nil, args...)
	for range 50 {
		postSample(t, d.URL("/callback"+sampleQuery), "../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	}
	d.Signal(15)
	if code := d.Wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	db := filepath.Join(dir, "data", "imalert.db")
	f, err := os.OpenFile(db, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\xde\xad\xbe\xef", 1024)), 2*4096); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	code, out := runBounded(t, args...)
	if code == 0 || !strings.Contains(out, db) || !strings.Contains(out, "aside") || strings.Contains(out, "msg=listening") {
		t.Errorf("serve on a damaged database: exit %d\n%s", code, out)
	}
}

// Deleting the database under a running daemon: callbacks are refused
// with 503 from then on, /-/ready fails, and a second daemon may start on
// a new database without the two sharing anything.
func TestStoreDeletedWhileServing(t *testing.T) {
	dir, args := writeStoreConfig(t)
	d := testutil.StartDaemon(t, nil, args...)
	sample := "../../callback/testdata/samples/send-msg-exception.doc-sample.json"
	postSample(t, d.URL("/callback"+sampleQuery), sample)
	if code, _ := get(t, d.URL("/-/ready")); code != http.StatusOK {
		t.Fatalf("/-/ready = %d before the deletion", code)
	}
	code, out := runBounded(t, args...)
	if code == 0 || !strings.Contains(out, "in use by another imalert") {
		t.Errorf("a second serve on the same data_dir: exit %d\n%s", code, out)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(dir, "data", "imalert.db"+suffix)); err != nil {
			t.Fatal(err)
		}
	}
	body, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(d.URL("/callback"+sampleQuery), "application/json", strings.NewReader(strings.Replace(string(body), "123456", "999", 1)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(got), `"OK"`) {
		t.Errorf("callback after the deletion = %d %s, want 503 FAIL", resp.StatusCode, got)
	}
	if code, body := get(t, d.URL("/-/ready")); code != http.StatusServiceUnavailable || !strings.Contains(body, "deleted or replaced") {
		t.Errorf("/-/ready after the deletion = %d %q", code, body)
	}
	if !strings.Contains(d.Stderr(), "store broken") {
		t.Errorf("the breakage was not logged:\n%s", d.Stderr())
	}
	d2 := testutil.StartDaemon(t, nil, args...)
	postSample(t, d2.URL("/callback"+sampleQuery), sample)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
