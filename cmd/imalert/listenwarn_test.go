package main

import (
	"bytes"
	"strings"
	"testing"
)

// serve warns about an admin surface without a token on the listen
// address in effect: --listen moves the built-in loopback listener to an
// address that is not loopback (TEST-NET, which nothing here can bind, so
// serve stops right after).
func TestServeWarnsOnTheListenInEffect(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"serve", "--listen", "192.0.2.1:0", "--data-dir", t.TempDir()}, &stdout, &stderr)
	if code == 0 {
		t.Fatalf("serve on an address it cannot bind exited 0:\n%s", stderr.String())
	}
	want := "listening on 192.0.2.1:0 without admin.token: the admin endpoints (/metrics, /-/reload, /api/...) answer only loopback clients"
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "level=WARN") {
		t.Errorf("stderr lacks the warning %q:\n%s", want, stderr.String())
	}
}
