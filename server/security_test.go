package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

const (
	signedApp   = 1400000000
	unsignedApp = 1400000001
	tokenNow    = "t0k3n-current-0123456789"
	tokenPrev   = "t0k3n-previous-9876543210"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type secure struct {
	s   *Server
	rec *recorder
	clk *clock
	reg *prometheus.Registry
}

// newSecure returns a server with one signed and one unsigned app, and
// de-duplication on; change adjusts the options first.
func newSecure(t testing.TB, change func(*Options)) *secure {
	t.Helper()
	x := &secure{rec: &recorder{}, clk: &clock{t: fixedNow}, reg: prometheus.NewRegistry()}
	o := Options{
		Registerer:   x.reg,
		Gatherer:     x.reg,
		CallbackPath: "/callback",
		Apps:         []uint64{signedApp, unsignedApp},
		MaxBodyBytes: maxBody,
		Limits:       callback.Limits{MaxDepth: 16, MaxElements: 8, MaxFields: 64, MaxEvents: 4, MaxTextBytes: 1024},
		Ingester:     x.rec,
		Now:          x.clk.Now,
		Verifiers:    NewVerifiers(map[uint64]*callback.Verifier{signedApp: callback.NewVerifier([]string{tokenNow, tokenPrev}, time.Minute)}),
		DedupWindow:  5 * time.Minute,
		DedupMaxKeys: 1000,
	}
	if change != nil {
		change(&o)
	}
	x.s = New(o)
	return x
}

// signedQuery is the query of a callback for app with Sign and RequestTime
// made from token at time at.
func signedQuery(app uint64, cmd, token string, at time.Time) string {
	rt := strconv.FormatInt(at.Unix(), 10)
	return "/callback?SdkAppid=" + strconv.FormatUint(app, 10) + "&CallbackCommand=" + cmd +
		"&contenttype=json&ClientIP=10.0.0.1&OptPlatform=RESTAPI&Sign=" + callback.Sign(token, rt) + "&RequestTime=" + rt
}

func (x *secure) do(t *testing.T, method, target, body string, hdr map[string]string, remote string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if remote != "" {
		req.RemoteAddr = remote
	}
	w := httptest.NewRecorder()
	x.s.Handler().ServeHTTP(w, req)
	return w
}

func failBody(code int, info string) string {
	b, _ := json.Marshal(answer{ActionStatus: "FAIL", ErrorInfo: info, ErrorCode: code})
	return string(b)
}

// The hostile request table: each forged, stale, malformed or oversized
// request gets its exact status and FAIL answer, and nothing is ingested.
func TestHostileRequests(t *testing.T) {
	doc, err := os.ReadFile("../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	sample := string(doc)
	now := fixedNow
	cmd := callback.CommandSendMsgException
	good := signedQuery(signedApp, cmd, tokenNow, now)
	rt := strconv.FormatInt(now.Unix(), 10)
	base := "/callback?SdkAppid=1400000000&CallbackCommand=" + cmd + "&contenttype=json"
	withSign := func(sign, reqTime string) string { return base + "&Sign=" + sign + "&RequestTime=" + reqTime }
	huge := `{"ErrorInfo":"` + strings.Repeat("x", maxBody) + `"}`
	tests := []struct {
		name   string
		target string
		body   string
		length int64 // 0: declared; -1: chunked
		status int
		answer string
	}{
		{"valid signature", good, sample, 0, 200, okResponse},
		{"previous token (rotation)", signedQuery(signedApp, cmd, tokenPrev, now), sample, 0, 200, okResponse},
		{"unsigned app needs no signature", strings.Replace(sendQuery, "1400000000", "1400000001", 1), sample, 0, 200, okResponse},
		{"no signature", base, sample, 0, 401, failBody(40101, "callback authentication required: Sign missing")},
		{"no RequestTime", base + "&Sign=" + callback.Sign(tokenNow, rt), sample, 0, 401, failBody(40101, "callback authentication required: RequestTime missing")},
		{"forged signature", withSign(callback.Sign("guessed-token", rt), rt), sample, 0, 401, failBody(40102, "Sign does not match")},
		{"zero signature", withSign(strings.Repeat("0", 64), rt), sample, 0, 401, failBody(40102, "Sign does not match")},
		{"signature of the empty token", withSign(callback.Sign("", rt), rt), sample, 0, 401, failBody(40102, "Sign does not match")},
		{"signature replayed with a new time", withSign(callback.Sign(tokenNow, rt), strconv.FormatInt(now.Unix()+1, 10)), sample, 0, 401, failBody(40102, "Sign does not match")},
		{"truncated signature", withSign(callback.Sign(tokenNow, rt)[:40], rt), sample, 0, 401, failBody(40102, "Sign is not 64 hex digits")},
		{"stale signature", signedQuery(signedApp, cmd, tokenNow, now.Add(-61*time.Second)), sample, 0, 401, failBody(40103, "RequestTime outside the freshness window (too old)")},
		{"future signature", signedQuery(signedApp, cmd, tokenNow, now.Add(61*time.Second)), sample, 0, 401, failBody(40103, "RequestTime outside the freshness window (in the future)")},
		{"non-numeric RequestTime", withSign(callback.Sign(tokenNow, "now"), "now"), sample, 0, 401, failBody(40104, "RequestTime is not decimal Unix seconds")},
		{"millisecond RequestTime", withSign(callback.Sign(tokenNow, rt+"000"), rt+"000"), sample, 0, 401, failBody(40103, "RequestTime outside the freshness window (in the future)")},
		{"another app's id", signedQuery(1400000002, cmd, tokenNow, now), sample, 0, 403, failBody(40301, "unknown SdkAppid 1400000002: not an app of this receiver")},
		{"signed app's signature on another app", strings.Replace(good, "1400000000", "1400000003", 1), sample, 0, 403, failBody(40301, "unknown SdkAppid 1400000003: not an app of this receiver")},
		{"oversized, declared", good, huge, 0, 413, failBody(41301, "body larger than 65536 bytes")},
		{"oversized, chunked", good, huge, -1, 413, failBody(41301, "body larger than 65536 bytes")},
		{"truncated body", good, sample[:len(sample)/2], 0, 400, ""},
		{"invalid UTF-8 outside strings", good, "{\"GroupId\":\"g\"\xff}", 0, 400, failBody(40002, "body: invalid JSON: syntax error at byte 15")},
		{"top-level array", good, `[` + sample + `]`, 0, 400, failBody(40002, "body: not a JSON object")},
		{"null body", good, `null`, 0, 400, failBody(40002, "body: not a JSON object")},
		{"ErrorCode as object", good, `{"GroupId":"g","ErrorCode":{"x":1}}`, 0, 400, failBody(40002, "body field ErrorCode: want an integer, got an object")},
		{"MsgBody as string", good, `{"GroupId":"g","MsgBody":"<!channel>"}`, 0, 400, failBody(40002, "body field MsgBody: want an array, got a string")},
		{"GroupId as number", good, `{"GroupId":12}`, 0, 400, failBody(40002, "body field GroupId: want a string, got a number")},
		{"empty body", good, "", 0, 400, failBody(40002, "body: empty")},
		{"command with markup", strings.Replace(good, cmd, "%3C!channel%3E", 1), sample, 0, 400, failBody(40001, "query parameter CallbackCommand: not a callback command name")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newSecure(t, nil)
			req := httptest.NewRequest(http.MethodPost, tt.target, strings.NewReader(tt.body))
			if tt.length < 0 {
				req.ContentLength = -1
			}
			w := httptest.NewRecorder()
			x.s.Handler().ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			if tt.answer != "" && w.Body.String() != tt.answer {
				t.Errorf("answer = %s\nwant     %s", w.Body, tt.answer)
			}
			var a answer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatalf("answer is not JSON: %q", w.Body)
			}
			if ok := tt.status == 200; ok != (len(x.rec.events) > 0) || (!ok && a.ActionStatus != "FAIL") {
				t.Errorf("%d events ingested, answer %+v", len(x.rec.events), a)
			}
			for _, secret := range []string{tokenNow, tokenPrev} {
				if strings.Contains(w.Body.String(), secret) {
					t.Error("the answer contains a token")
				}
			}
			// The signature is checked, not kept: within its freshness
			// window it would let a reader of the journal replay a callback.
			for _, raw := range x.rec.raws {
				if q, _ := url.ParseQuery(raw.Query); q.Has("Sign") || !q.Has("SdkAppid") || !q.Has("CallbackCommand") {
					t.Errorf("journal entry's query %q: want it without Sign, with the rest", raw.Query)
				}
			}
		})
	}
}

// An odd but valid body, or one over a count limit, is acknowledged (and
// cut), not refused: IM does not resend a refused callback. The event says
// what was left out.
func TestOddAndOverLimitBodiesAreAccepted(t *testing.T) {
	now := fixedNow
	cmd := callback.CommandSendMsgException
	deep := `{"GroupId":"g","X":` + strings.Repeat("[", 17) + strings.Repeat("]", 17) + `}`
	elems := `{"GroupId":"g","MsgBody":[` + strings.TrimSuffix(strings.Repeat(`{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}},`, 9), ",") + `]}`
	tests := []struct {
		name    string
		target  string
		body    string
		events  int
		leftOut callback.LeftOut
	}{
		{"deeply nested field", signedQuery(signedApp, cmd, tokenNow, now), deep, 1, callback.LeftOut{Fields: 1}},
		{"too many message elements", signedQuery(signedApp, cmd, tokenNow, now), elems, 1, callback.LeftOut{Elements: 1}},
		{"too many Push events", signedQuery(signedApp, "Push.OfflinePush", tokenNow, now), `{"Events":[{"n":1},{"n":2},{"n":3},{"n":4},{"n":5}]}`, 4, callback.LeftOut{Events: 1}},
		{"nulls", signedQuery(signedApp, cmd, tokenNow, now), `{"GroupId":"g","ErrorCode":null,"MsgBody":[null],"X":null}`, 1, callback.LeftOut{}},
		{"byte order mark", signedQuery(signedApp, cmd, tokenNow, now), "\xef\xbb\xbf" + `{"GroupId":"g","ErrorCode":10023}`, 1, callback.LeftOut{}},
		{"integral float code", signedQuery(signedApp, cmd, tokenNow, now), `{"GroupId":"g","ErrorCode":1.0023e4}`, 1, callback.LeftOut{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newSecure(t, nil)
			w := x.do(t, http.MethodPost, tt.target, tt.body, nil, "")
			if w.Code != 200 || w.Body.String() != okResponse {
				t.Fatalf("status %d, answer %s; want 200 OK", w.Code, w.Body)
			}
			if len(x.rec.events) != tt.events {
				t.Fatalf("%d events ingested, want %d", len(x.rec.events), tt.events)
			}
			if got := x.rec.events[0].LeftOut; got != tt.leftOut {
				t.Errorf("LeftOut = %+v, want %+v", got, tt.leftOut)
			}
			for what, want := range map[string]int{"elements": tt.leftOut.Elements, "fields": tt.leftOut.Fields, "events": tt.leftOut.Events} {
				if got := promtest.ToFloat64(x.s.sec.leftOut.WithLabelValues(what)); got != float64(want) {
					t.Errorf("imalert_callback_left_out_total{what=%q} = %v, want %d", what, got, want)
				}
			}
		})
	}
}

// Invalid UTF-8 inside a string is not IM's, but refusing it would lose the
// event: it is accepted with the bytes replaced.
func TestInvalidUTF8InText(t *testing.T) {
	x := newSecure(t, nil)
	body := "{\"GroupId\":\"g\xff\xfe\",\"MsgBody\":[{\"MsgType\":\"TIMTextElem\",\"MsgContent\":{\"Text\":\"a\xc3\"}}]}"
	w := x.do(t, http.MethodPost, signedQuery(signedApp, callback.CommandSendMsgException, tokenNow, fixedNow), body, nil, "")
	if w.Code != 200 || len(x.rec.events) != 1 {
		t.Fatalf("got %d %s, %d events", w.Code, w.Body, len(x.rec.events))
	}
	ev := x.rec.events[0]
	if ev.GroupID != "g\uFFFD\uFFFD" || ev.MsgBody[0].Content.Text != "a\uFFFD" {
		t.Errorf("GroupId %q Text %q", ev.GroupID, ev.MsgBody[0].Content.Text)
	}
}

func TestAuthFailureMetrics(t *testing.T) {
	x := newSecure(t, nil)
	x.do(t, http.MethodPost, signedQuery(signedApp, callback.CommandSendMsgException, "wrong", fixedNow), "{}", nil, "")
	x.do(t, http.MethodPost, signedQuery(signedApp, callback.CommandSendMsgException, tokenNow, fixedNow.Add(-time.Hour)), "{}", nil, "")
	for reason, want := range map[string]float64{"sign_mismatch": 1, "request_time_stale": 1, "sign_missing": 0} {
		if got := promtest.ToFloat64(x.s.sec.authFailures.WithLabelValues(reason)); got != want {
			t.Errorf("auth failures %s = %v, want %v", reason, got, want)
		}
	}
	if got := promtest.ToFloat64(x.s.metrics.requests.WithLabelValues("unauthorized")); got != 2 {
		t.Errorf("requests{unauthorized} = %v, want 2", got)
	}
}

// A retry or replay of the same event inside the window is acknowledged
// but processed once; a different event, or the same after the window, is
// processed.
func TestDedup(t *testing.T) {
	x := newSecure(t, nil)
	doc, _ := os.ReadFile("../callback/testdata/samples/send-msg-exception.doc-sample.json")
	post := func(body string) *httptest.ResponseRecorder {
		t.Helper()
		// A retry carries a fresh signature and time; the key ignores them.
		x.clk.Add(time.Second)
		return x.do(t, http.MethodPost, signedQuery(signedApp, callback.CommandSendMsgException, tokenNow, x.clk.Now()), body, nil, "")
	}
	steps := []struct {
		name   string
		body   string
		before time.Duration
		events int
	}{
		{"first", string(doc), 0, 1},
		{"retry", string(doc), 0, 1},
		{"re-encoded retry", strings.ReplaceAll(string(doc), "\n", " "), 0, 1},
		{"another Random", strings.Replace(string(doc), "123456", "123457", 1), 0, 2},
		{"after the window", string(doc), 5 * time.Minute, 3},
	}
	for _, st := range steps {
		x.clk.Add(st.before)
		w := post(st.body)
		if w.Code != 200 || w.Body.String() != okResponse {
			t.Fatalf("%s: got %d %s", st.name, w.Code, w.Body)
		}
		if len(x.rec.events) != st.events {
			t.Fatalf("%s: %d events processed, want %d", st.name, len(x.rec.events), st.events)
		}
	}
	if got := promtest.ToFloat64(x.s.sec.duplicates); got != 2 {
		t.Errorf("duplicates = %v, want 2", got)
	}
	if got := promtest.ToFloat64(x.s.metrics.requests.WithLabelValues("duplicate")); got != 2 {
		t.Errorf("requests{duplicate} = %v, want 2", got)
	}
}

// Events that could not be taken are not remembered: IM's retry is
// processed. A Push batch is taken in one call, all or none.
func TestDedupReleasesOnFailure(t *testing.T) {
	x := newSecure(t, nil)
	q := signedQuery(signedApp, "Push.OfflinePush", tokenNow, fixedNow)
	batch := `{"Events":[{"To_Account":"a"},{"To_Account":"b"},{"To_Account":"c"}]}`
	x.rec.err = errJournal
	if w := x.do(t, http.MethodPost, q, batch, nil, ""); w.Code != 503 {
		t.Fatalf("first attempt: %d %s, want 503", w.Code, w.Body)
	}
	x.rec.err = nil
	if w := x.do(t, http.MethodPost, q, batch, nil, ""); w.Code != 200 {
		t.Fatalf("retry: %d %s", w.Code, w.Body)
	}
	if x.rec.calls != 2 {
		t.Errorf("%d ingest calls for two requests of a 3-event batch, want 2 (one per request)", x.rec.calls)
	}
	var got []string
	for _, ev := range x.rec.events {
		v, _ := ev.Field("To_Account")
		got = append(got, v)
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("processed %v, want each event once: a,b,c", got)
	}
}

func TestDeduperBounded(t *testing.T) {
	evicted := 0
	d := newDeduper(time.Minute, 3, func() { evicted++ })
	now := fixedNow
	for i := range 5 {
		if r := d.Claim(now, strconv.Itoa(i)); r != DedupFirst {
			t.Fatalf("key %d: %s", i, r)
		}
	}
	if d.Len() != 3 || evicted != 2 {
		t.Errorf("len %d evicted %d, want 3 and 2", d.Len(), evicted)
	}
	if d.Claim(now, "4") != DedupDuplicate || d.Claim(now, "0") != DedupFirst {
		t.Error("wrong keys kept: want the newest")
	}
	// Expired keys leave without counting as evictions.
	if d.Claim(now.Add(time.Minute), "new") != DedupFirst || evicted != 3 {
		t.Errorf("evicted %d after expiry, want 3 (only the earlier overflow)", evicted)
	}
	if d.Len() != 1 {
		t.Errorf("len %d after the window, want 1", d.Len())
	}
	var off *deduper
	if off.Claim(now, "x") != DedupOff || newDeduper(0, 1, nil).Claim(now, "x") != DedupOff {
		t.Error("disabled deduper claims")
	}
}

func TestRateLimit(t *testing.T) {
	x := newSecure(t, func(o *Options) {
		o.RateLimit = RateLimit{PerSecond: 1, Burst: 2, MaxSources: 2}
		o.DedupWindow = 0
	})
	q := strings.Replace(sendQuery, "1400000000", "1400000001", 1)
	post := func(remote string) *httptest.ResponseRecorder {
		return x.do(t, http.MethodPost, q, `{"GroupId":"g"}`, nil, remote)
	}
	for i, want := range []int{200, 200, 429} {
		if w := post("192.0.2.1:1000"); w.Code != want {
			t.Fatalf("request %d: %d, want %d", i, w.Code, want)
		}
	}
	w := post("192.0.2.1:1001")
	if w.Code != 429 || w.Body.String() != failBody(42901, "rate limit exceeded, retry later") || w.Header().Get("Retry-After") != "1" {
		t.Errorf("got %d %s Retry-After %q", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	// X-Forwarded-For from an untrusted peer changes nothing.
	if w := x.do(t, http.MethodPost, q, `{}`, map[string]string{"X-Forwarded-For": "198.51.100.9"}, "192.0.2.1:1"); w.Code != 429 {
		t.Errorf("spoofed X-Forwarded-For got %d, want 429", w.Code)
	}
	if w := post("192.0.2.2:1000"); w.Code != 200 {
		t.Errorf("another source: %d", w.Code)
	}
	x.clk.Add(time.Second)
	if w := post("192.0.2.1:1000"); w.Code != 200 {
		t.Errorf("after a second: %d", w.Code)
	}
	// A third source evicts the least recently used limiter.
	post("192.0.2.3:1000")
	if got := promtest.ToFloat64(x.s.sec.rateEvictions); got != 1 || x.s.limiter.Len() != 2 {
		t.Errorf("evictions %v, limiters %d; want 1 and 2", got, x.s.limiter.Len())
	}
	if got := promtest.ToFloat64(x.s.sec.rateLimited); got != 3 {
		t.Errorf("rate limited %v, want 3", got)
	}
	// Health endpoints are never rate limited.
	for range 5 {
		if w := x.do(t, http.MethodGet, "/-/healthy", "", nil, "192.0.2.1:1000"); w.Code != 200 {
			t.Fatalf("health: %d", w.Code)
		}
	}
}

// IPv6 sources share a bucket per /64: one host owns a whole /64.
func TestRateLimitIPv6Prefix(t *testing.T) {
	r := newRateLimiter(RateLimit{PerSecond: 1, Burst: 1, MaxSources: 10}, func() {})
	a, _ := r.Allow(fixedNow, netip.MustParseAddr("2001:db8::1"))
	b, _ := r.Allow(fixedNow, netip.MustParseAddr("2001:db8::ffff:2"))
	c, _ := r.Allow(fixedNow, netip.MustParseAddr("2001:db8:0:1::1"))
	if !a || b || !c {
		t.Errorf("allow = %v %v %v, want true false true", a, b, c)
	}
}

func TestSourceAllowlistAndTrustedProxies(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	q := strings.Replace(sendQuery, "1400000000", "1400000001", 1)
	tests := []struct {
		name    string
		proxies []string
		remote  string
		xff     string
		status  int
	}{
		{"allowed peer", nil, "203.0.113.5:4000", "", 200},
		{"other peer", nil, "198.51.100.1:4000", "", 403},
		{"other peer claiming an allowed address", nil, "198.51.100.1:4000", "203.0.113.5", 403},
		{"trusted proxy forwarding an allowed client", []string{"10.0.0.0/8"}, "10.1.2.3:4000", "203.0.113.5", 200},
		{"trusted proxy forwarding another client", []string{"10.0.0.0/8"}, "10.1.2.3:4000", "198.51.100.1", 403},
		{"client-supplied X-Forwarded-For behind a trusted proxy", []string{"10.0.0.0/8"}, "10.1.2.3:4000", "203.0.113.5, 198.51.100.1", 403},
		{"trusted proxy itself outside the list", []string{"10.0.0.0/8"}, "10.1.2.3:4000", "", 403},
		{"IPv4-mapped IPv6 peer", nil, "[::ffff:203.0.113.7]:4000", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newSecure(t, func(o *Options) { o.AllowNets = allow; o.TrustedProxies = tt.proxies })
			hdr := map[string]string{}
			if tt.xff != "" {
				hdr["X-Forwarded-For"] = tt.xff
			}
			w := x.do(t, http.MethodPost, q, `{"GroupId":"g"}`, hdr, tt.remote)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			if tt.status == 403 && w.Body.String() != failBody(40302, "source address not allowed") {
				t.Errorf("answer %s", w.Body)
			}
			// Health stays reachable from anywhere.
			if w := x.do(t, http.MethodGet, "/-/healthy", "", hdr, tt.remote); w.Code != 200 {
				t.Errorf("health: %d", w.Code)
			}
		})
	}
}

func TestAdminSurface(t *testing.T) {
	const token = "admin-bearer-token-value"
	bearer := map[string]string{"Authorization": "Bearer " + token}
	tests := []struct {
		name     string
		separate bool
		admin    bool // request through the admin handler
		path     string
		hdr      map[string]string
		status   int
	}{
		{"metrics without token", false, false, "/metrics", nil, 401},
		{"metrics with wrong token", false, false, "/metrics", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"metrics with basic auth", false, false, "/metrics", map[string]string{"Authorization": "Basic " + token}, 401},
		{"metrics with token", false, false, "/metrics", bearer, 200},
		{"metrics with lower-case scheme", false, false, "/metrics", map[string]string{"Authorization": "bearer " + token}, 200},
		{"health without token", false, false, "/-/healthy", nil, 200},
		{"separate: no metrics on the callback listener", true, false, "/metrics", bearer, 404},
		{"separate: health on the callback listener", true, false, "/-/healthy", nil, 200},
		{"separate: metrics on the admin listener", true, true, "/metrics", bearer, 200},
		{"separate: token still required", true, true, "/metrics", nil, 401},
		{"separate: health on the admin listener", true, true, "/-/ready", nil, 503},
		{"separate: no callback on the admin listener", true, true, "/callback", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newSecure(t, func(o *Options) { o.AdminToken = token; o.SeparateAdmin = tt.separate })
			h := x.s.Handler()
			if tt.admin {
				h = x.s.AdminHandler()
			}
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Fatalf("GET %s = %d, want %d (%s)", tt.path, w.Code, tt.status, w.Body)
			}
			if tt.status == 401 {
				if w.Header().Get("WWW-Authenticate") != `Bearer realm="imalert"` || w.Body.String() != failBody(40110, "admin token required") {
					t.Errorf("401 answer: %q %s", w.Header().Get("WWW-Authenticate"), w.Body)
				}
			}
			if strings.Contains(w.Body.String(), token) {
				t.Error("the answer contains the admin token")
			}
		})
	}
	// The callback listener still takes callbacks with a separate admin.
	x := newSecure(t, func(o *Options) { o.AdminToken = token; o.SeparateAdmin = true })
	if w := x.do(t, http.MethodPost, signedQuery(signedApp, callback.CommandSendMsgException, tokenNow, fixedNow), `{"GroupId":"g"}`, nil, ""); w.Code != 200 {
		t.Errorf("callback with separate admin: %d %s", w.Code, w.Body)
	}
	if got := promtest.ToFloat64(x.s.sec.adminDenied); got != 0 {
		t.Errorf("admin denied %v", got)
	}
}

// Without a token the admin surface is open, as before.
func TestAdminWithoutToken(t *testing.T) {
	x := newSecure(t, func(o *Options) { o.TrustedProxies = []string{"127.0.0.1", "10.0.0.0/8"} })
	xff := map[string]string{"X-Forwarded-For": "127.0.0.1"}
	tests := []struct {
		name   string
		remote string
		hdr    map[string]string
		status int
	}{
		{"loopback", "127.0.0.1:4000", nil, 200},
		{"loopback, another address", "127.0.0.2:4000", nil, 200},
		{"IPv6 loopback", "[::1]:4000", nil, 200},
		{"IPv4-mapped loopback", "[::ffff:127.0.0.1]:4000", nil, 200},
		{"remote", "192.0.2.1:4000", nil, 403},
		{"private network", "10.1.2.3:4000", nil, 403},
		// A trusted proxy's word about its client does not make it local.
		{"remote through a trusted proxy, claiming loopback", "10.1.2.3:4000", xff, 403},
		{"a proxy on this host", "127.0.0.1:4000", map[string]string{"X-Forwarded-For": "192.0.2.1"}, 403},
		{"a proxy on this host, claiming loopback", "127.0.0.1:4000", xff, 403},
		{"Forwarded header", "127.0.0.1:4000", map[string]string{"Forwarded": "for=192.0.2.1"}, 403},
		{"X-Real-IP header", "127.0.0.1:4000", map[string]string{"X-Real-IP": "192.0.2.1"}, 403},
		{"no address", "garbage", nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range []string{"GET /metrics", "POST /-/reload"} {
				method, path, _ := strings.Cut(target, " ")
				w := x.do(t, method, path, "", tt.hdr, tt.remote)
				got := w.Code
				if got == http.StatusNotFound { // no reloader: past the check
					got = 200
				}
				if got != tt.status {
					t.Errorf("%s from %s = %d, want %d", target, tt.remote, w.Code, tt.status)
				}
				if tt.status == 403 && w.Body.String() != failBody(codeAdminLoopback, "admin endpoints answer only loopback clients without admin.token") {
					t.Errorf("%s: body %s", target, w.Body.String())
				}
			}
		})
	}
	if got := promtest.ToFloat64(x.s.sec.adminDenied); got != 16 {
		t.Errorf("imalert_admin_auth_failures_total = %v, want 16 (8 refused clients, 2 routes)", got)
	}
	// The health endpoints and callbacks answer everyone.
	for _, path := range []string{"/-/healthy", "/-/ready"} {
		if w := x.do(t, http.MethodGet, path, "", nil, "192.0.2.1:4000"); w.Code == http.StatusForbidden {
			t.Errorf("%s refused a remote client", path)
		}
	}
}

// Every route but the callback path and health is admin surface: with a
// token configured, each answers 401 without it, and with a separate admin
// listener none is on the callback listener. An endpoint registered outside
// registerAdmin fails this test.
func TestAdminRoutesGuarded(t *testing.T) {
	public := map[string]bool{"POST /callback": true, "GET /-/healthy": true, "GET /-/ready": true}
	// Every optional admin endpoint registered.
	withAll := func(o *Options) { o.Deliveries = noDeliveries{} }
	x := newSecure(t, func(o *Options) { withAll(o); o.AdminToken = "tok" })
	routes := x.s.engine.Routes()
	if len(routes) <= len(public) {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, r := range routes {
		if public[r.Method+" "+r.Path] {
			continue
		}
		path := strings.NewReplacer(":", "x", "*", "x").Replace(r.Path)
		w := x.do(t, r.Method, path, "", nil, "")
		if w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s answers %d without the admin token", r.Method, r.Path, w.Code)
		}
	}
	for _, want := range []string{"POST /-/reload", "GET /metrics", "GET /api/v1/deliveries", "GET /debug/pprof/profile", "GET /debug/pprof/heap"} {
		found := false
		for _, r := range routes {
			found = found || r.Method+" "+r.Path == want
		}
		if !found {
			t.Errorf("%s is not registered: the guard test does not cover it", want)
		}
	}
	sep := newSecure(t, func(o *Options) { withAll(o); o.AdminToken = "tok"; o.SeparateAdmin = true })
	for _, r := range sep.s.engine.Routes() {
		if !public[r.Method+" "+r.Path] {
			t.Errorf("%s %s is on the callback listener with a separate admin listener", r.Method, r.Path)
		}
	}
}

// Two identical bodies without EventTime, signed at different times, are
// two events; the same signed request replayed is one.
func TestDedupWithoutEventTime(t *testing.T) {
	x := newSecure(t, nil)
	body := `{"CallbackCommand":"Alert.RequestOverLimit","ServiceName":"openim","Command":"batchsendmsg","Request":510,"Limit":200}`
	first := signedQuery(signedApp, "Alert.RequestOverLimit", tokenNow, x.clk.Now())
	x.do(t, http.MethodPost, first, body, nil, "")
	x.clk.Add(2 * time.Second)
	x.do(t, http.MethodPost, first, body, nil, "") // replay
	x.do(t, http.MethodPost, signedQuery(signedApp, "Alert.RequestOverLimit", tokenNow, x.clk.Now()), body, nil, "")
	if len(x.rec.events) != 2 {
		t.Errorf("%d events processed, want 2 (the replay dropped)", len(x.rec.events))
	}
}

// noDeliveries is an empty outbox.
type noDeliveries struct{}

func (noDeliveries) Deliveries(context.Context, store.Filter) ([]store.Notification, error) {
	return nil, nil
}

// gatedIngester holds the first Ingest until released, then fails it.
type gatedIngester struct {
	recorder
	started, release chan struct{}
	held             bool
}

func (g *gatedIngester) Ingest(ctx context.Context, raws []callback.Raw, evs []*callback.Event) error {
	g.mu.Lock()
	first := !g.held
	g.held = true
	g.mu.Unlock()
	if first {
		close(g.started)
		<-g.release
		return errJournal
	}
	return g.recorder.Ingest(ctx, raws, evs)
}

// IM retries a callback whose answer is slow. The retry is not answered OK
// while the first copy is still being written: it waits for the outcome,
// and when the first copy fails it is taken itself, so an acknowledged
// callback is always a journaled one.
func TestDedupRetryWaitsForTheFirstCopy(t *testing.T) {
	g := &gatedIngester{started: make(chan struct{}), release: make(chan struct{})}
	x := newSecure(t, func(o *Options) { o.Ingester = g })
	body := `{"CallbackCommand":"Group.CallbackSendMsgException","GroupId":"@TGS#1","Type":"Public","From_Account":"a","Random":1,"ErrorCode":10023,"EventTime":1670574414123}`
	q := signedQuery(signedApp, callback.CommandSendMsgException, tokenNow, x.clk.Now())
	first := make(chan int)
	go func() { first <- x.do(t, http.MethodPost, q, body, nil, "").Code }()
	<-g.started
	retry := make(chan int)
	go func() { retry <- x.do(t, http.MethodPost, q, body, nil, "").Code }()
	select {
	case code := <-retry:
		t.Fatalf("the retry was answered %d while the first copy was still being written", code)
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	if code := <-first; code != 503 {
		t.Errorf("first copy answered %d, want 503 (not taken)", code)
	}
	if code := <-retry; code != 200 || len(g.events) != 1 {
		t.Errorf("retry answered %d with %d events taken, want 200 and 1", code, len(g.events))
	}
}

// Without a signature, nothing tells a retry of an event without EventTime
// from a new one: identical alarms are each processed.
func TestUnsignedIdenticalEventsWithoutTime(t *testing.T) {
	x := newSecure(t, nil)
	body := `{"CallbackCommand":"Alert.RequestOverLimit","ServiceName":"openim","Command":"batchsendmsg","Request":510,"Limit":200}`
	q := "/callback?SdkAppid=" + strconv.FormatUint(unsignedApp, 10) + "&CallbackCommand=Alert.RequestOverLimit&contenttype=json"
	x.do(t, http.MethodPost, q, body, nil, "")
	x.clk.Add(2 * time.Minute)
	x.do(t, http.MethodPost, q, body, nil, "")
	if len(x.rec.events) != 2 {
		t.Errorf("two unsigned alarms two minutes apart: %d processed, want 2", len(x.rec.events))
	}
}

// At the smallest de-duplication window the config allows (twice the
// freshness window), a replay is refused or recognised right up to the
// edge of the signature's lifetime.
func TestReplayAtTheWindowEdge(t *testing.T) {
	x := newSecure(t, func(o *Options) {
		o.Verifiers = NewVerifiers(map[uint64]*callback.Verifier{signedApp: callback.NewVerifier([]string{tokenNow}, time.Minute)})
		o.DedupWindow = 2 * time.Minute
	})
	rt := fixedNow.Add(time.Minute - time.Millisecond) // signed as far ahead as is accepted
	q := signedQuery(signedApp, "Alert.RequestOverLimit", tokenNow, rt)
	body := `{"CallbackCommand":"Alert.RequestOverLimit","Request":510}`
	at := time.Duration(0)
	for _, after := range []time.Duration{0, time.Minute, 2*time.Minute - 2*time.Millisecond, 2*time.Minute + 900*time.Millisecond} {
		x.clk.Add(after - at)
		at = after
		x.do(t, http.MethodPost, q, body, nil, "")
	}
	if len(x.rec.events) != 1 {
		t.Errorf("one signed request replayed to the edge: processed %d times, want 1", len(x.rec.events))
	}
}

func TestDefaultBurst(t *testing.T) {
	for _, tt := range []struct {
		perSecond float64
		want      int
	}{{0.001, 1}, {1, 1}, {2.5, 3}, {2.0001, 3}, {40, 40}} {
		if got := DefaultBurst(tt.perSecond); got != tt.want {
			t.Errorf("DefaultBurst(%v) = %d, want %d", tt.perSecond, got, tt.want)
		}
	}
}

// Bounds left at zero, as the config leaves them unless set, take the
// server's defaults: nothing per source or per key is unbounded.
func TestZeroBoundsTakeTheDefaults(t *testing.T) {
	if got := New(Options{DedupWindow: time.Minute}).DedupMaxKeys(); got != DefaultDedupMaxKeys {
		t.Errorf("dedup keys held: %d, want %d", got, DefaultDedupMaxKeys)
	}
	if got := New(Options{DedupWindow: time.Minute, DedupMaxKeys: 7}).DedupMaxKeys(); got != 7 {
		t.Errorf("dedup keys held: %d, want the 7 set", got)
	}
	r := newRateLimiter(RateLimit{PerSecond: 2.5}, func() {})
	if r.max != DefaultMaxSources || r.burst != 3 {
		t.Errorf("rate limiter: %d sources, burst %d; want %d and 3", r.max, r.burst, DefaultMaxSources)
	}
}
