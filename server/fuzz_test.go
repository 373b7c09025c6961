package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/imalert/imalert/callback"
)

// FuzzCallbackHandler sends arbitrary queries, bodies and X-Forwarded-For
// headers through the whole callback handler: admission, signature,
// parsing, de-duplication. It must never panic (the recovery would answer
// 500), must answer in IM's shape with a known status, and must ingest
// only what it acknowledged.
func FuzzCallbackHandler(f *testing.F) {
	rt := "1795615387" // fixedNow
	f.Add("SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&Sign="+callback.Sign(tokenNow, rt)+"&RequestTime="+rt,
		[]byte(`{"GroupId":"g","Random":1,"EventTime":1}`), "")
	f.Add("SdkAppid=1400000001&CallbackCommand=Push.OfflinePush", []byte(`{"Events":[{"To_Account":"a"},{}]}`), "203.0.113.1")
	f.Add("SdkAppid=1400000000&CallbackCommand=X.Y&Sign=00&RequestTime=x", []byte(`{`), "")
	f.Add("SdkAppid=1400000001&CallbackCommand=State.StateChange&contenttype=JSON", []byte(`{"Info":{"Action":"Login"}}`), "10.0.0.1, 203.0.113.9")
	f.Fuzz(func(t *testing.T, query string, body []byte, xff string) {
		x := newSecure(t, func(o *Options) {
			o.AllowNets = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
			o.TrustedProxies = []string{"192.0.2.0/24"}
			o.RateLimit = RateLimit{PerSecond: 1000, Burst: 1000, MaxSources: 4}
			o.DedupMaxKeys = 8
		})
		req := httptest.NewRequest(http.MethodPost, "/callback", strings.NewReader(string(body)))
		req.URL.RawQuery = query
		req.RemoteAddr = "192.0.2.10:1234"
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		w := httptest.NewRecorder()
		x.s.Handler().ServeHTTP(w, req)
		var a answer
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatalf("answer is not JSON: %q", w.Body)
		}
		switch w.Code {
		case 200:
			if w.Body.String() != okResponse {
				t.Fatalf("200 with %s", w.Body)
			}
		case 400, 401, 403, 404, 413, 429:
			if a.ActionStatus != "FAIL" || a.ErrorCode/100 != w.Code {
				t.Fatalf("%d with %+v", w.Code, a)
			}
			if len(x.rec.events) > 0 {
				t.Fatalf("%d events ingested for a %d", len(x.rec.events), w.Code)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		for _, ev := range x.rec.events {
			if !ev.ReceivedAt.Equal(x.clk.Now()) || (ev.AppID != signedApp && ev.AppID != unsignedApp) {
				t.Fatalf("event %d at %v", ev.AppID, ev.ReceivedAt)
			}
		}
	})
}
