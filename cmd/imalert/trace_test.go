package main

import (
	"bytes"
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
