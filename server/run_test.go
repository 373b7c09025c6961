package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/testutil"
)

// The callback listener serves HTTPS with the configured certificate, the
// admin surface plain HTTP on its own listener, and a renewed certificate
// is picked up without a restart.
func TestRunTLSAndAdminListener(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := testutil.WriteCert(t, dir)
	const token = "admin-token-for-run"
	x := newSecure(t, func(o *Options) {
		o.TLSCertFile, o.TLSKeyFile = certFile, keyFile
		o.SeparateAdmin = true
		o.AdminToken = token
		o.ShutdownTimeout = 2 * time.Second
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.s.RunWithAdmin(ctx, ln, adminLn) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunWithAdmin: %v", err)
		}
	}()

	client := func(pool *x509.CertPool) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true,
		}}
	}
	base := "https://" + ln.Addr().String()
	q := signedQuery(signedApp, callback.CommandSendMsgException, tokenNow, x.clk.Now())
	resp, err := client(pool).Post(base+q, "application/json", strings.NewReader(`{"GroupId":"g"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != okResponse || resp.TLS == nil {
		t.Fatalf("HTTPS callback: %d %s", resp.StatusCode, body)
	}
	// Plain HTTP to the TLS listener is refused.
	if resp, err := http.Get("http://" + ln.Addr().String() + "/-/healthy"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served on the TLS listener")
		}
	}
	// The admin surface: its own listener, token required, no callbacks.
	adminBase := "http://" + adminLn.Addr().String()
	get := func(url, bearer string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(adminBase+"/metrics", token); c != 200 {
		t.Errorf("admin /metrics with token: %d", c)
	}
	if c := get(adminBase+"/metrics", ""); c != 401 {
		t.Errorf("admin /metrics without token: %d", c)
	}
	resp, err = client(pool).Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("callback listener /metrics: %d, want 404", resp.StatusCode)
	}

	// Renewal: new files on disk, served once the check interval passed.
	_, _, newPool := testutil.WriteCert(t, dir)
	if _, err := client(newPool).Get(base + "/-/healthy"); err == nil {
		t.Error("new certificate served before the check interval")
	}
	x.clk.Add(11 * time.Second)
	resp, err = client(newPool).Get(base + "/-/healthy")
	if err != nil {
		t.Fatalf("renewed certificate not served: %v", err)
	}
	resp.Body.Close()
}

func TestRunWithAdminNeedsListener(t *testing.T) {
	x := newSecure(t, func(o *Options) { o.SeparateAdmin = true })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := x.s.Run(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "admin listener") {
		t.Errorf("Run without an admin listener: %v", err)
	}
}
