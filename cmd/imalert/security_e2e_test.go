package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/testutil"
)

// The real binary with the app config, TLS, a trusted proxy, a
// source allowlist and a rate limit: serve wires every one of them.
func TestServeSecured(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, _, pool := testutil.WriteCert(t, dir)
	cfg := `listen: 127.0.0.1:0
apps:
  - sdkappid: 1400000000
    tokens: [${IM_CALLBACK_TOKEN}, ${IM_CALLBACK_TOKEN_PREVIOUS}]
server:
  trusted_proxies: [127.0.0.1]
  tls: {cert_file: cert.pem, key_file: key.pem}
callback:
  allow_cidrs: [203.0.113.0/24]
  rate_limit: {per_second: 0.001, burst: 2}
rule_files: [rules.yaml]
receivers:
  - name: console
    type: console
`
	path := filepath.Join(dir, "imalert.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte("rules:\n  - name: rate-limit\n    match: {error_code: 10023}\n    receivers: [console]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "serve-secured-token"
	d := testutil.StartDaemon(t, []string{"IM_CALLBACK_TOKEN=" + token}, "serve", "--config", path)
	if !strings.Contains(d.Stderr(), "tls=true") || !strings.Contains(d.Stderr(), "signed_apps=1") {
		t.Fatalf("listening line lacks tls=true signed_apps=1:\n%s", d.Stderr())
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	sample, err := os.ReadFile("../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(sign bool, xff string) (int, string) {
		t.Helper()
		rt := strconv.FormatInt(time.Now().Unix(), 10)
		q := "/callback" + sampleQuery
		if sign {
			q += "&RequestTime=" + rt + "&Sign=" + callback.Sign(token, rt)
		}
		req, _ := http.NewRequest(http.MethodPost, "https://"+d.Addr+q, strings.NewReader(string(sample)))
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	steps := []struct {
		name   string
		sign   bool
		xff    string
		status int
	}{
		{"signed, from an allowed client via the trusted proxy", true, "203.0.113.5", 200},
		{"unsigned", false, "203.0.113.5", 401},
		{"the proxy itself is not allowed", true, "", 403},
		{"a client outside the allowlist", true, "198.51.100.1", 403},
		{"the allowed client's bucket (burst 2) is empty", true, "203.0.113.5", 429},
	}
	for _, st := range steps {
		if code, body := post(st.sign, st.xff); code != st.status {
			t.Errorf("%s: %d %s, want %d", st.name, code, body, st.status)
		}
	}
}
