package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

// imalert trace reads a running daemon's trace API: one event by id, and
// recent events of a group.
func TestTraceCommand(t *testing.T) {
	d := testutil.StartDaemon(t, nil, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	sample := "../../callback/testdata/samples/send-msg-exception.doc-sample.json"
	postSample(t, d.URL("/callback"+sampleQuery), sample)
	if !d.WaitStdout("10023", 1, 10*time.Second) {
		t.Fatalf("no page on stdout:\n%s", d.Stdout())
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"by id", []string{"trace", "--url", d.URL(""), "1"}, []string{"event 1 ", "request ", "code 10023", "group @TGS#2J4SZEAEL", "paged", "→ console"}},
		{"by group", []string{"trace", "--url", d.URL(""), "--group", "@TGS#2J4SZEAEL"}, []string{"event 1 ", "paged"}},
		{"json", []string{"trace", "--url", d.URL(""), "--json", "--code", "10023"}, []string{`"events":[{"id":1`, `"decision":"paged"`}},
		{"other group", []string{"trace", "--url", d.URL(""), "--group", "@none"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.args, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tt.want == nil && strings.Contains(out.String(), "event ") {
				t.Errorf("want no events, got:\n%s", out.String())
			}
		})
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"trace", "--url", d.URL(""), "99"}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "404") {
		t.Errorf("trace of a missing event: exit %d, stderr %q; want a failure naming 404", code, errOut.String())
	}
}

// With external_url, the page printed by the console receiver links to its
// event in the UI, and the UI and imalert trace (token from the config)
// show that event.
func TestTraceLinkEndToEnd(t *testing.T) {
	dir := t.TempDir()
	rules := "rules:\n  - name: rate\n    match: {error_code: 10023}\n    group_by: [GroupId]\n    throttle: 10m\n    receivers: [console]\n"
	cfg := "listen: 127.0.0.1:0\ndata_dir: data\nexternal_url: https://imalert.example.com/\napps: [{sdkappid: 1400000000}]\n" +
		"admin: {token: trace-e2e-admin-token}\nrule_files: [rules.yaml]\nreceivers:\n  - {name: console, type: console}\n"
	for name, body := range map[string]string{"imalert.yaml": cfg, "rules.yaml": rules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := testutil.StartDaemon(t, nil, "serve", "--config", filepath.Join(dir, "imalert.yaml"))
	postSample(t, d.URL("/callback"+sampleQuery), "../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if !d.WaitStdout("trace https://imalert.example.com/ui/events/1", 1, 10*time.Second) {
		t.Fatalf("the page does not link to its trace:\n%s", d.Stdout())
	}
	req, _ := http.NewRequest(http.MethodGet, d.URL("/ui/events/1"), nil)
	req.Header.Set("Authorization", "Bearer trace-e2e-admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "first in a new 10m window") {
		t.Errorf("UI event page: status %d:\n%.400s", resp.StatusCode, page)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"trace", "--config", filepath.Join(dir, "imalert.yaml"), "--url", d.URL(""), "1"}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "rule rate (") {
		t.Errorf("trace with the config's token: exit %d\n%s%s", code, out.String(), errOut.String())
	}
}
