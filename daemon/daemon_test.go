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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
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
		select {
		case h.tries <- struct{}{}:
		default: // enough told
		}
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

// A receiver's changed URL is applied by a reload, for a webhook receiver
// and a Slack webhook_url alike: a page waiting in the receiver's queue
// (its old URL failing) and every later page go to the new URL, and the
// reload names nothing as needing a restart.
func TestReloadMovesReceiverToNewURL(t *testing.T) {
	tests := []struct {
		name string
		// endpoint starts a loopback endpoint, failing or not, and
		// returns the receiver's YAML for it and a wait for its next page.
		endpoint func(t *testing.T, failing bool) (receiver string, attempted <-chan struct{}, next func() string)
	}{
		{"webhook url", func(t *testing.T, failing bool) (string, <-chan struct{}, func() string) {
			status := http.StatusOK
			if failing {
				status = http.StatusServiceUnavailable
			}
			h := newHook(t, status)
			return "type: webhook\n    url: " + h.URL + "/hook", h.tries, func() string { return h.next(t) }
		}},
		{"slack webhook_url", func(t *testing.T, failing bool) (string, <-chan struct{}, func() string) {
			s := testutil.NewSlack(t)
			if failing {
				s.Fail(slices.Repeat([]testutil.SlackFault{{Status: 500}}, 1000)...)
			}
			attempted := make(chan struct{})
			go func() {
				for deadline := time.Now().Add(10 * time.Second); len(s.Attempts()) == 0 && time.Now().Before(deadline); {
					time.Sleep(5 * time.Millisecond)
				}
				close(attempted)
			}()
			seen := 0
			return "type: slack\n    webhook_url: " + s.WebhookURL() + "\n    pace: 0s", attempted, func() string {
				seen++
				msgs := s.WaitMessages(seen, 10*time.Second)
				if len(msgs) < seen {
					t.Fatal("no page reached Slack")
				}
				return strings.Join(testutil.JSONStrings(msgs[seen-1].Payload), " ")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, attempted, _ := tt.endpoint(t, true)
			next, _, page := tt.endpoint(t, false)
			dir := t.TempDir()
			path := filepath.Join(dir, "imalert.yaml")
			writeFile(t, path, receiverConfig(old))
			writeFile(t, filepath.Join(dir, "rules.yaml"), "rules:\n  - name: rate-limit\n    match: {error_code: 10023}\n    group_by: [GroupId]\n    receivers: [out]\n")
			d, log := startDaemon(t, path)

			callback(t, d, "@TGS#pending")
			select { // the page is queued, and its attempt failed
			case <-attempted:
			case <-time.After(10 * time.Second):
				t.Fatal("the old URL was never tried")
			}

			writeFile(t, path, receiverConfig(next))
			resp := post(t, "http://"+d.AdminAddr()+"/-/reload", "")
			var answer struct {
				Status       string   `json:"status"`
				NeedsRestart []string `json:"needs_restart"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != 200 || answer.Status != "success" || len(answer.NeedsRestart) > 0 {
				t.Fatalf("reload: %d %+v %v", resp.StatusCode, answer, err)
			}
			if p := page(); !strings.Contains(p, "@TGS#pending") {
				t.Errorf("first page at the new URL is not the pending one:\n%s", p)
			}
			callback(t, d, "@TGS#later")
			if p := page(); !strings.Contains(p, "@TGS#later") {
				t.Errorf("second page at the new URL is not the later one:\n%s", p)
			}
			if strings.Contains(log.String(), "http://127.0.0.1") {
				t.Errorf("a receiver URL reached the log:\n%s", log.String())
			}
		})
	}
}

func receiverConfig(receiver string) string {
	return `listen: 127.0.0.1:0
apps: [{sdkappid: 1400000000}]
rule_files: [rules.yaml]
receivers:
  - name: out
    ` + receiver + `
    retry: {initial: 50ms, max: 100ms}
`
}
