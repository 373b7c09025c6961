package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/alert/state/redisstate"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/internal/yamlfile"
	"github.com/imalert/imalert/store"
)

// With silences shared through Redis, a silence cannot be made or
// expired while Redis does not answer (the other replicas could not be
// told): 503 with Retry-After and an error that says so, and nothing
// changes. Once Redis answers again, both work.
func TestSilencesRedisDown(t *testing.T) {
	ctx := context.Background()
	srv := testutil.StartRedis(t)
	st, err := store.Open(ctx, store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := config.State{Backend: config.StateRedis, Redis: config.Redis{Addr: srv.Addr, KeyPrefix: "t:", Timeout: yamlfile.Duration(time.Second)}}
	states, closeFn, err := redisstate.Open(ctx, c, redisstate.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	set, err := silence.Open(ctx, silence.Options{Store: st, Shared: redisstate.SharedSilences(states)})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Registerer: prometheus.NewRegistry(), CallbackPath: "/callback", Apps: []uint64{appID}, Ingester: &recorder{}, Silences: set, AdminToken: "admin-secret"})
	do := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer admin-secret")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w
	}
	const body = `{"matchers": {"error_code": [10023]}, "duration": "1h", "author": "ana", "comment": "storm"}`
	w := do("POST", "/api/v1/silences", body)
	var made silence.Silence
	if w.Code != http.StatusCreated || json.Unmarshal(w.Body.Bytes(), &made) != nil {
		t.Fatalf("POST with Redis up: %d %s", w.Code, w.Body)
	}

	srv.Stop()
	for _, req := range []struct{ method, path, done string }{
		{"POST", "/api/v1/silences", "made"},
		{"DELETE", "/api/v1/silences/" + made.ID, "expired"},
	} {
		w := do(req.method, req.path, body)
		var answer struct{ Error string }
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "5" || json.Unmarshal(w.Body.Bytes(), &answer) != nil ||
			!strings.Contains(answer.Error, "not "+req.done) || !strings.Contains(answer.Error, "Redis") {
			t.Errorf("%s with Redis down: %d Retry-After %q %s; want 503, Retry-After 5 and why", req.method, w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	}
	if l := set.List(); len(l) != 1 || l[0].State != silence.Active {
		t.Errorf("silences after the refusals: %+v, want the one made, still active", l)
	}

	srv.Start()
	deadline := time.Now().Add(30 * time.Second)
	for w = do("DELETE", "/api/v1/silences/"+made.ID, ""); w.Code == http.StatusServiceUnavailable && time.Now().Before(deadline); w = do("DELETE", "/api/v1/silences/"+made.ID, "") {
		time.Sleep(100 * time.Millisecond) // the replica leaves Redis alone for a backoff
	}
	if w.Code != http.StatusOK {
		t.Errorf("DELETE with Redis back: %d %s", w.Code, w.Body)
	}
}
