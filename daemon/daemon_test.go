package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imalert/imalert/reload"
)

// hook is a webhook endpoint on loopback that records the pages it takes
// and answers status.
type hook struct {
	*httptest.Server
	status int
	tries  chan struct{} // a value per request
	taken  chan string   // the group key of every page taken
}

func newHook(t *testing.T, status int) *hook {
	h := &hook{status: status, tries: make(chan struct{}, 100), taken: make(chan string, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.tries <- struct{}{}
		if h.status != http.StatusOK {
			w.WriteHeader(h.status)
			return
		}
		var p struct {
			GroupKey string `json:"group_key"`
		}
		_ = json.Unmarshal(body, &p)
		h.taken <- p.GroupKey
	}))
	t.Cleanup(h.Close)
	return h
}

// next waits for the next page the hook takes and returns its group key.
func (h *hook) next(t *testing.T) string {
	t.Helper()
	select {
	case g := <-h.taken:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("no page reached the webhook")
		return ""
	}
}

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

func hookConfig(url string) string {
	return `listen: 127.0.0.1:0
apps: [{sdkappid: 1400000000}]
rule_files: [rules.yaml]
receivers:
  - name: hook
    type: webhook
    url: ` + url + `
    retry: {initial: 50ms, max: 100ms}
`
}

// startDaemon runs the daemon of the config at path in-process until the
// test ends, and returns it with its log.
func startDaemon(t *testing.T, path string) (*Daemon, *syncBuffer) {
	t.Helper()
	s, err := reload.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, Options{Set: s, Path: path, DataDir: t.TempDir(), Stderr: &log})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return d, &log
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func callback(t *testing.T, d *Daemon, group string) {
	t.Helper()
	body := `{"CallbackCommand":"Group.CallbackSendMsgException","GroupId":"` + group + `","Type":"Public","ErrorCode":10023,"EventTime":1764400000000,"Random":1}`
	if resp := post(t, "http://"+d.Addr()+"/callback?SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException", body); resp.StatusCode != 200 {
		t.Fatalf("callback answered %d", resp.StatusCode)
	}
}

// A receiver's changed webhook URL is applied by a reload: a page waiting
// in the receiver's queue (its old URL failing) and every later page go to
// the new URL, and the reload names nothing as needing a restart.
func TestReloadMovesReceiverToNewURL(t *testing.T) {
	old, next := newHook(t, http.StatusServiceUnavailable), newHook(t, http.StatusOK)
	dir := t.TempDir()
	path := filepath.Join(dir, "imalert.yaml")
	writeFile(t, path, hookConfig(old.URL+"/old"))
	writeFile(t, filepath.Join(dir, "rules.yaml"), "rules:\n  - name: rate-limit\n    match: {error_code: 10023}\n    group_by: [GroupId]\n    receivers: [hook]\n")
	d, log := startDaemon(t, path)

	callback(t, d, "@TGS#pending")
	<-old.tries // the page is queued, and its attempt failed

	writeFile(t, path, hookConfig(next.URL+"/new"))
	resp := post(t, "http://"+d.AdminAddr()+"/-/reload", "")
	var answer struct {
		Status       string   `json:"status"`
		NeedsRestart []string `json:"needs_restart"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != 200 || answer.Status != "success" || len(answer.NeedsRestart) > 0 {
		t.Fatalf("reload: %d %+v %v", resp.StatusCode, answer, err)
	}
	if g := next.next(t); g != `GroupId="@TGS#pending"` {
		t.Errorf("first page at the new URL is for %q, want the pending @TGS#pending", g)
	}
	callback(t, d, "@TGS#later")
	if g := next.next(t); g != `GroupId="@TGS#later"` {
		t.Errorf("second page at the new URL is for %q, want @TGS#later", g)
	}
	if strings.Contains(log.String(), next.URL+"/new") || strings.Contains(log.String(), old.URL+"/old") {
		t.Error("a webhook URL reached the log")
	}
}
