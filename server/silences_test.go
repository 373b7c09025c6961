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
	"github.com/imalert/imalert/store"
)

// The silences API behind the admin token: create (201), list with state
// and count, expire, and 4xx answers that say what is wrong.
func TestSilencesEndpoint(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set, err := silence.Open(ctx, silence.Options{Store: st, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Registerer: prometheus.NewRegistry(), CallbackPath: "/callback", Apps: []uint64{appID}, Ingester: &recorder{},
		Silences: set, AdminToken: "admin-secret"})
	do := func(method, path, body, token string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w
	}
	good := `{"matchers": {"error_code": [80001, "80002-80004"], "GroupId": {"glob": "@TGS#*"}}, "duration": "1h", "author": "ana", "comment": "content filter retune"}`
	if w := do("POST", "/api/v1/silences", good, ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("without the token: %d, want 401", w.Code)
	}
	w := do("POST", "/api/v1/silences", good, "admin-secret")
	if w.Code != http.StatusCreated {
		t.Fatalf("POST: %d %s, want 201", w.Code, w.Body)
	}
	var created silence.Silence
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.ID == "" || created.State != silence.Active || !created.EndsAt.Equal(fixedNow.Add(time.Hour)) {
		t.Fatalf("created = %+v (%v)", created, err)
	}

	bad := []struct {
		name, body string
		status     int
		want       string
	}{
		{"rule language error", `{"matchers": {"eror_code": 1}, "duration": "1h", "author": "a", "comment": "c"}`, 400, `unknown field \"eror_code\" (did you mean \"error_code\"?)`},
		{"unknown key", `{"matcher": {}, "duration": "1h"}`, 400, `unknown field`},
		{"not JSON", `{"matchers":`, 400, `not valid JSON`},
		{"empty", ``, 400, `empty body`},
		{"too long", `{"matchers": {"error_code": 1}, "duration": "30d", "author": "a", "comment": "c"}`, 400, `silences.max_duration`},
		{"too big", `{"comment": "` + strings.Repeat("x", 70<<10) + `"}`, 413, `64 KiB`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			w := do("POST", "/api/v1/silences", tt.body, "admin-secret")
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.want) {
				t.Errorf("%d %s, want %d with %q", w.Code, w.Body, tt.status, tt.want)
			}
		})
	}

	list := func(query string) []silence.Silence {
		t.Helper()
		w := do("GET", "/api/v1/silences"+query, "", "admin-secret")
		var out struct{ Silences []silence.Silence }
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &out) != nil {
			t.Fatalf("GET %s: %d %s", query, w.Code, w.Body)
		}
		return out.Silences
	}
	if got := list("?state=active"); len(got) != 1 || got[0].ID != created.ID || got[0].Silenced != 0 {
		t.Errorf("active silences = %+v", got)
	}
	if w := do("GET", "/api/v1/silences?state=gone", "", "admin-secret"); w.Code != 400 {
		t.Errorf("bad state filter: %d", w.Code)
	}
	if w := do("DELETE", "/api/v1/silences/"+created.ID, "", "admin-secret"); w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"expired"`) {
		t.Errorf("DELETE: %d %s", w.Code, w.Body)
	}
	if got := list("?state=expired"); len(got) != 1 {
		t.Errorf("expired silences = %+v", got)
	}
	if w := do("DELETE", "/api/v1/silences/nope", "", "admin-secret"); w.Code != 404 {
		t.Errorf("DELETE unknown: %d", w.Code)
	}
}
