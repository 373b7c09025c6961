package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
)

type hit struct {
	header http.Header
	body   []byte
}

// hook is a receiving end: it records requests and answers with the next
// scripted status.
type hook struct {
	mu       sync.Mutex
	hits     []hit
	statuses []int
	retry    string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.hits = append(h.hits, hit{r.Header.Clone(), b})
	status := http.StatusNoContent
	if len(h.statuses) > 0 {
		status, h.statuses = h.statuses[0], h.statuses[1:]
	}
	h.mu.Unlock()
	if h.retry != "" {
		w.Header().Set("Retry-After", h.retry)
	}
	w.WriteHeader(status)
}

func notification(t *testing.T) *notify.Notification {
	t.Helper()
	raw := callback.Raw{
		Query:      "SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&ClientIP=10.0.0.1&OptPlatform=RESTAPI",
		Body:       []byte(`{"GroupId":"@TGS#1","Type":"Public","From_Account":"jared","ErrorCode":10023,"ErrorInfo":"rate\nlimited <!channel>","EventTime":1764079387123,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"red packet"}}]}`),
		ReceivedAt: time.Date(2026, 11, 25, 14, 3, 7, 0, time.UTC),
	}
	ev, err := raw.Parse(callback.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return &notify.Notification{
		ID: "0123456789abcdef", Receiver: "hook", Rule: "group-rate-limit", RuleFile: "rules/im.yaml", RuleLine: 2,
		Severity: "warning", GroupKey: `GroupId="@TGS#1"`, Event: ev, CodeMeaning: "message sending frequency over the limit",
		Throttle:  notify.Throttled{Window: 10 * time.Minute, Suppressed: 3, Since: raw.ReceivedAt.Add(-10 * time.Minute), First: raw.ReceivedAt.Add(-9 * time.Minute), Last: raw.ReceivedAt.Add(-time.Minute)},
		CreatedAt: raw.ReceivedAt, Merged: 1,
	}
}

// The payload is the documented JSON, and the signature verifies with the
// shared secret over timestamp and body.
func TestPayloadAndSignature(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	secret := "shared-hmac-secret"
	n := New(&config.WebhookReceiver{URL: config.Secret(srv.URL + "/hook"), Secret: config.Secret(secret)}, srv.Client())
	n.now = func() time.Time { return time.Unix(1764079400, 0) }
	if err := n.Notify(context.Background(), notification(t)); err != nil {
		t.Fatal(err)
	}
	got := h.hits[0]
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if id := got.header.Get(HeaderID); id != "0123456789abcdef" {
		t.Errorf("%s = %q", HeaderID, id)
	}
	ts := got.header.Get(HeaderTimestamp)
	if ts != "1764079400" {
		t.Errorf("%s = %q", HeaderTimestamp, ts)
	}
	sig := got.header.Get(HeaderSignature)
	if !Verify([]byte(secret), ts, got.body, sig) || !strings.HasPrefix(sig, "sha256=") {
		t.Errorf("signature %q does not verify", sig)
	}
	if Verify([]byte("other"), ts, got.body, sig) || Verify([]byte(secret), "1764079401", got.body, sig) {
		t.Error("signature verifies with the wrong secret or timestamp")
	}
	var p map[string]any
	if err := json.Unmarshal(got.body, &p); err != nil {
		t.Fatal(err)
	}
	ev := p["event"].(map[string]any)
	sup := p["suppressed"].(map[string]any)
	want := map[string]any{
		"version": 1.0, "id": "0123456789abcdef", "kind": "event", "rule": "group-rate-limit", "severity": "warning",
		"rule_file": "rules/im.yaml", "rule_line": 2.0, "merged": 1.0,
		"event.error_code": 10023.0, "event.group_id": "@TGS#1", "event.error_info": "rate limited <!channel>",
		"event.event_time": "2025-11-25T14:03:07.123Z", "event.excerpt": "red packet", "event.received_at": "2026-11-25T14:03:07Z",
		"suppressed.count": 3.0, "suppressed.window_seconds": 600.0,
	}
	gotVals := map[string]any{}
	for k := range want {
		switch {
		case strings.HasPrefix(k, "event."):
			gotVals[k] = ev[strings.TrimPrefix(k, "event.")]
		case strings.HasPrefix(k, "suppressed."):
			gotVals[k] = sup[strings.TrimPrefix(k, "suppressed.")]
		default:
			gotVals[k] = p[k]
		}
	}
	if d := cmp.Diff(want, gotVals); d != "" {
		t.Errorf("payload (-want +got):\n%s", d)
	}

	// Without a secret there is no signature.
	n = New(&config.WebhookReceiver{URL: config.Secret(srv.URL + "/hook")}, srv.Client())
	if err := n.Notify(context.Background(), notification(t)); err != nil {
		t.Fatal(err)
	}
	if sig := h.hits[1].header.Get(HeaderSignature); sig != "" {
		t.Errorf("unsigned request carries %q", sig)
	}
}

func TestDigestPayload(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	start := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	d := notify.NewDigest(start, 10*time.Minute)
	for i, g := range []string{"a", "b", "a", "c", "a", "b", "d", "e", "f"} {
		ev := &callback.Event{GroupID: g, GroupType: "Public", FromAccount: "u" + g, ErrorCode: int64(10023 + i%2), Present: callback.FieldErrorCode}
		d.Add(ev)
	}
	n := New(&config.WebhookReceiver{URL: config.Secret(srv.URL)}, srv.Client())
	if err := n.Notify(context.Background(), &notify.Notification{ID: "x", Receiver: "hook", Rule: "storm", Severity: "info", Digest: d, CreatedAt: start}); err != nil {
		t.Fatal(err)
	}
	var p Payload
	if err := json.Unmarshal(h.hits[0].body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Kind != "digest" || p.Event != nil || p.Digest == nil {
		t.Fatalf("payload = %+v", p)
	}
	want := &Digest{
		Start: start, End: start.Add(10 * time.Minute), Total: 9,
		ByErrorCode: map[string]int{"10023": 5, "10024": 4}, ByGroupType: map[string]int{"Public": 9},
		TopGroups:  []Count{{"a", 3}, {"b", 2}, {"c", 1}, {"d", 1}, {"e", 1}},
		TopSenders: []Count{{"ua", 3}, {"ub", 2}, {"uc", 1}, {"ud", 1}, {"ue", 1}},
	}
	if diff := cmp.Diff(want, p.Digest); diff != "" {
		t.Errorf("digest (-want +got):\n%s", diff)
	}
}

// One attempt, classified: 2xx delivered; 408, 429 and 5xx retried with
// the destination's Retry-After; other statuses final; a transport error
// never names the URL.
func TestClassify(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	tests := []struct {
		status     int
		retryAfter string
		retryable  bool
		after      time.Duration
		ok         bool
	}{
		{200, "", false, 0, true},
		{204, "", false, 0, true},
		{429, "7", true, 7 * time.Second, false},
		{503, now.Add(90 * time.Second).Format(http.TimeFormat), true, 90 * time.Second, false},
		{429, "86400", true, time.Hour, false},
		{500, "", true, 0, false},
		{408, "", true, 0, false},
		{400, "", false, 0, false},
		{404, "5", false, 0, false},
		{301, "", false, 0, false},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			err := classify(tt.status, tt.retryAfter, now)
			if tt.ok {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var de *notify.DeliveryError
			if !errors.As(err, &de) || de.Retryable != tt.retryable || de.RetryAfter != tt.after {
				t.Errorf("got %+v, want retryable=%v after=%v", de, tt.retryable, tt.after)
			}
		})
	}

	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/secret-path-token"
	srv.Close() // nothing listens any more
	n := New(&config.WebhookReceiver{URL: config.Secret(url)}, &http.Client{Timeout: time.Second})
	err := n.Notify(context.Background(), notification(t))
	var de *notify.DeliveryError
	if !errors.As(err, &de) || !de.Retryable || strings.Contains(err.Error(), "secret-path-token") {
		t.Errorf("connection refused: %v", err)
	}
}

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newClient() *http.Client { return &http.Client{Timeout: 5 * time.Second} }

// A page that held nothing back carries no suppressed object, whether or
// not its rule has a throttle window; one that did carries the count.
func TestPayloadOmitsNothingSuppressed(t *testing.T) {
	for _, tt := range []struct {
		name     string
		throttle notify.Throttled
		want     bool
	}{
		{"first page, throttled rule", notify.Throttled{Window: 10 * time.Minute, Next: 10 * time.Minute}, false},
		{"no throttle", notify.Throttled{}, false},
		{"repeats held back", notify.Throttled{Window: 10 * time.Minute, Suppressed: 2}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := notification(t)
			n.Throttle = tt.throttle
			b, err := json.Marshal(Build(n))
			if err != nil {
				t.Fatal(err)
			}
			var p map[string]any
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			if _, got := p["suppressed"]; got != tt.want {
				t.Errorf("suppressed present = %v, want %v: %s", got, tt.want, b)
			}
		})
	}
}

// A threshold page carries the count and whose events reached it, cleaned.
func TestPayloadThreshold(t *testing.T) {
	n := notification(t)
	b, _ := json.Marshal(Build(n))
	if strings.Contains(string(b), `"threshold"`) {
		t.Errorf("a page without a threshold carries one: %s", b)
	}
	n.Threshold = notify.ThresholdCount{Count: 12, Within: time.Minute, By: "From_Account",
		Top: []notify.Count{{Name: "a\nb", Count: 4}, {Name: "c", Count: 3}}, More: 5}
	b, err := json.Marshal(Build(n))
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Threshold Threshold }
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	want := Threshold{Count: 12, WithinSeconds: 60, By: "From_Account", Top: []Count{{"a b", 4}, {"c", 3}}, More: 5}
	if diff := cmp.Diff(want, p.Threshold); diff != "" {
		t.Errorf("threshold (-want +got):\n%s", diff)
	}
}
