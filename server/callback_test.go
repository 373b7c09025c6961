package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/callback"
)

// errJournal stands for an ingest that could not make the event durable.
var errJournal = errors.New("store: journal: disk full")

type recorder struct {
	mu     sync.Mutex
	events []*callback.Event
	raws   []callback.Raw
	err    error
	calls  int
}

// Ingest takes a request's events all or none, as the journal does.
func (r *recorder) Ingest(_ context.Context, raws []callback.Raw, evs []*callback.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.err != nil {
		return r.err
	}
	r.events = append(r.events, evs...)
	r.raws = append(r.raws, raws...)
	return nil
}

const (
	appID      = 1400000000
	sendQuery  = "/callback?SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=json&ClientIP=10.0.0.1&OptPlatform=RESTAPI"
	maxBody    = 64 << 10
	okResponse = `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`
)

var fixedNow = time.Date(2026, 11, 25, 14, 3, 7, 0, time.UTC)

func newTestServer(t *testing.T, ing Ingester) *Server {
	t.Helper()
	return New(Options{
		Registerer:   prometheus.NewRegistry(),
		CallbackPath: "/callback",
		Apps:         []uint64{appID},
		MaxBodyBytes: maxBody,
		Ingester:     ing,
		Now:          func() time.Time { return fixedNow },
	})
}

func post(t *testing.T, h http.Handler, target string, body io.Reader, contentLength int64) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, body)
	if contentLength >= 0 {
		req.ContentLength = contentLength
	} else {
		req.ContentLength = -1 // chunked: length unknown
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// Every sample body, of every documented command, is acknowledged with IM's
// exact success answer and handed on: one event per body, one per element
// of a Push.* batch (whose command comes from the query alone).
func TestCallbackAcceptsEverySample(t *testing.T) {
	files, _ := filepath.Glob("../callback/testdata/samples/*.json")
	docs, _ := filepath.Glob("../callback/testdata/samples/tencent-docs/*.json")
	legacy, _ := filepath.Glob("../callback/testdata/samples/tencent-docs/legacy-and-guides/*.json")
	commands, _ := filepath.Glob("../callback/testdata/commands/*.json")
	own, _ := filepath.Glob("testdata/good/*.json")
	files = append(append(append(append(files, docs...), legacy...), commands...), own...)
	if len(files) < 65 {
		t.Fatalf("only %d sample files found", len(files))
	}
	seen := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cmd := callback.CommandSendMsgException
			if m := commandRE.FindSubmatch(body); m != nil {
				cmd = string(m[1])
			}
			seen[cmd] = true
			want := 1
			var batch struct{ Events []json.RawMessage }
			if json.Unmarshal(body, &batch) == nil && batch.Events != nil {
				want = len(batch.Events)
			}
			rec := &recorder{}
			s := newTestServer(t, rec)
			target := "/callback?SdkAppid=1400000000&CallbackCommand=" + cmd + "&contenttype=json&ClientIP=10.0.0.1&OptPlatform=RESTAPI"
			w := post(t, s.Handler(), target, strings.NewReader(string(body)), int64(len(body)))
			if w.Code != http.StatusOK || w.Body.String() != okResponse {
				t.Fatalf("got %d %s, want 200 %s", w.Code, w.Body, okResponse)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			if len(rec.events) != want {
				t.Fatalf("ingested %d events, want %d", len(rec.events), want)
			}
			for _, ev := range rec.events {
				if ev.Command != cmd || !ev.ReceivedAt.Equal(fixedNow) {
					t.Fatalf("event command %s at %v, want %s at %v", ev.Command, ev.ReceivedAt, cmd, fixedNow)
				}
			}
			// The journal gets each event as received (a Push batch: each
			// of its events), and parsing it again gives the same event.
			if len(rec.raws) != len(rec.events) {
				t.Fatalf("%d journal entries for %d events", len(rec.raws), len(rec.events))
			}
			for i, raw := range rec.raws {
				if raw.Query != strings.TrimPrefix(target, "/callback?") || !raw.ReceivedAt.Equal(fixedNow) {
					t.Fatalf("raw = %q %v", raw.Query, raw.ReceivedAt)
				}
				if !callback.IsBatch(cmd) && !bytes.Equal(raw.Body, body) {
					t.Fatalf("raw body = %q, want the body as received", raw.Body)
				}
				again, err := raw.Parse(callback.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(rec.events[i], again); d != "" {
					t.Errorf("re-parsed raw %d differs (-live +replayed):\n%s", i, d)
				}
			}
		})
	}
	// Every command Tencent's "Webhook Overview" lists is among them.
	for _, cmd := range []string{
		"State.StateChange", "C2C.CallbackBeforeSendMsg", "C2C.CallbackAfterSendMsg",
		"Group.CallbackBeforeSendMsg", "Group.CallbackAfterSendMsg", "Group.CallbackAfterGroupFull",
		"Group.CallbackAfterNewMemberJoin", "Group.CallbackAfterMemberExit", "Group.CallbackAfterGroupDestroyed",
		"Group.CallbackOnMemberStateChange", "Group.CallbackAfterRecallMsg", "Group.CallbackOnDailyGroupQuotaAlarm",
		"Alert.RequestOverLimit", "Sns.CallbackFriendAdd", "Profile.CallbackPortraitSet",
		"OfficialAccount.CallbackAfterAddSubscriber", "Push.OfflinePush", "Push.AllMemberPush",
	} {
		if !seen[cmd] {
			t.Errorf("no sample acknowledged for %s", cmd)
		}
	}
}

var commandRE = regexp.MustCompile(`"CallbackCommand"\s*:\s*"([A-Za-z0-9._]+)"`)

func TestCallbackRejects(t *testing.T) {
	sample, err := os.ReadFile("../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	bad := func(name string) string {
		b, err := os.ReadFile(filepath.Join("../callback/testdata/bad", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	huge := `{"ErrorInfo":"` + strings.Repeat("x", maxBody) + `"}`
	tests := []struct {
		name    string
		method  string
		target  string
		body    string
		length  int64 // -1: unknown (chunked)
		status  int
		code    int
		infoHas string
	}{
		{"missing SdkAppid", "", "/callback?CallbackCommand=Group.CallbackSendMsgException", string(sample), 0, 400, codeBadQuery, "SdkAppid: missing"},
		{"non-numeric SdkAppid", "", "/callback?SdkAppid=abc&CallbackCommand=Group.CallbackSendMsgException", string(sample), 0, 400, codeBadQuery, "SdkAppid"},
		{"missing CallbackCommand", "", "/callback?SdkAppid=1400000000", string(sample), 0, 400, codeBadQuery, "CallbackCommand: missing"},
		{"no query at all", "", "/callback", string(sample), 0, 400, codeBadQuery, "SdkAppid"},
		{"unsupported contenttype", "", "/callback?SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=xml", string(sample), 0, 400, codeBadQuery, "contenttype"},
		{"another app", "", strings.Replace(sendQuery, "1400000000", "1400000001", 1), string(sample), 0, 403, codeUnknownApp, "unknown SdkAppid 1400000001"},
		{"empty body", "", sendQuery, "", 0, 400, codeBadBody, "body: empty"},
		{"whitespace body", "", sendQuery, " \n\t", 0, 400, codeBadBody, "body: empty"},
		{"bad JSON", "", sendQuery, bad("truncated.json"), 0, 400, codeBadBody, "invalid JSON"},
		{"JSON array", "", sendQuery, bad("array.json"), 0, 400, codeBadBody, "not a JSON object"},
		{"two JSON values", "", sendQuery, bad("trailing.json"), 0, 400, codeBadBody, "invalid JSON"},
		{"ErrorCode object", "", sendQuery, bad("errorcode-object.json"), 0, 400, codeBadBody, "ErrorCode: want an integer"},
		{"GroupId number", "", sendQuery, bad("groupid-number.json"), 0, 400, codeBadBody, "GroupId: want a string"},
		{"MsgBody string", "", sendQuery, bad("msgbody-string.json"), 0, 400, codeBadBody, "MsgBody: want an array"},
		{"EventTime boolean", "", sendQuery, bad("eventtime-bool.json"), 0, 400, codeBadBody, "EventTime"},
		{"Text number", "", sendQuery, bad("msgcontent-text-number.json"), 0, 400, codeBadBody, "MsgContent"},
		{"oversized, declared", "", sendQuery, huge, 0, 413, codeTooLarge, "larger than 65536 bytes"},
		{"oversized, chunked", "", sendQuery, huge, -1, 413, codeTooLarge, "larger than 65536 bytes"},
		{"GET on callback", http.MethodGet, sendQuery, "", 0, 405, codeMethod, "method not allowed"},
		{"unknown path", "", "/other?SdkAppid=1400000000", "{}", 0, 404, codeNotFound, "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			s := newTestServer(t, rec)
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req := httptest.NewRequest(method, tt.target, strings.NewReader(tt.body))
			switch {
			case tt.length < 0:
				req.ContentLength = -1
			case tt.length > 0:
				req.ContentLength = tt.length
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d (body %s)", w.Code, tt.status, w.Body)
			}
			var a answer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatalf("answer is not JSON: %q", w.Body)
			}
			if a.ActionStatus != "FAIL" || a.ErrorCode != tt.code || !strings.Contains(a.ErrorInfo, tt.infoHas) {
				t.Errorf("answer = %+v, want FAIL %d with %q", a, tt.code, tt.infoHas)
			}
			if len(rec.events) != 0 {
				t.Errorf("a rejected request was ingested")
			}
		})
	}
}

// A callback the journal could not take is not acknowledged: IM sees a
// failure, and retries, instead of an OK for an event that would be lost.
func TestCallbackBusy(t *testing.T) {
	s := newTestServer(t, &recorder{err: errJournal})
	body := `{"GroupId":"g","ErrorCode":10023}`
	w := post(t, s.Handler(), sendQuery, strings.NewReader(body), int64(len(body)))
	var a answer
	_ = json.Unmarshal(w.Body.Bytes(), &a)
	if w.Code != http.StatusServiceUnavailable || a.ActionStatus != "FAIL" || a.ErrorCode != codeBusy {
		t.Errorf("got %d %+v, want 503 FAIL %d", w.Code, a, codeBusy)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{Registerer: reg, Gatherer: reg, CallbackPath: "/callback", Apps: []uint64{appID}, Ingester: &recorder{}})
	for _, tt := range []struct {
		path   string
		status int
		has    string
	}{
		{"/-/healthy", 200, "OK"},
		{"/-/ready", 503, "starting"},
		{"/metrics", 200, "imalert_callback_requests_total"},
	} {
		body := `{"GroupId":"g"}`
		post(t, s.Handler(), sendQuery, strings.NewReader(body), int64(len(body)))
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.has) {
			t.Errorf("GET %s = %d %q, want %d containing %q", tt.path, w.Code, w.Body, tt.status, tt.has)
		}
	}
}
