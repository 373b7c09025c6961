package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

// journal takes events into a real store, as the pipeline does.
type journal struct{ st *store.Store }

func (j journal) Ingest(ctx context.Context, raws []callback.Raw, _ []*callback.Event) error {
	_, err := j.st.AppendAll(ctx, raws)
	return err
}

// A store whose database file is deleted under it makes callbacks answer
// 503 (never OK into a deleted file) and /-/ready fail with the reason.
func TestReadyFollowsStore(t *testing.T) {
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), Sync: store.SyncNormal, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(Options{
		Registerer: prometheus.NewRegistry(), CallbackPath: "/callback", Apps: []uint64{appID},
		Ingester: journal{st}, Health: st, Now: func() time.Time { return fixedNow },
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	defer func() { cancel(); <-done }()
	<-s.ready

	check := func(step string, wantCallback, wantReady int, readyHas string) {
		t.Helper()
		body := `{"GroupId":"g","ErrorCode":10023}`
		w := post(t, s.Handler(), sendQuery, strings.NewReader(body), int64(len(body)))
		var a answer
		_ = json.Unmarshal(w.Body.Bytes(), &a)
		if w.Code != wantCallback || (wantCallback == http.StatusOK) != (a.ActionStatus == "OK") {
			t.Errorf("%s: callback = %d %+v, want %d", step, w.Code, a, wantCallback)
		}
		r := httptest.NewRecorder()
		s.Handler().ServeHTTP(r, httptest.NewRequest(http.MethodGet, "/-/ready", nil))
		if r.Code != wantReady || !strings.Contains(r.Body.String(), readyHas) {
			t.Errorf("%s: /-/ready = %d %q, want %d containing %q", step, r.Code, r.Body, wantReady, readyHas)
		}
	}
	check("sound", http.StatusOK, http.StatusOK, "OK")
	if err := os.Remove(st.Path()); err != nil {
		t.Fatal(err)
	}
	check("database deleted", http.StatusServiceUnavailable, http.StatusServiceUnavailable, "deleted or replaced")
}

// Go's profiles are served behind the admin token.
func TestPprof(t *testing.T) {
	x := newSecure(t, func(o *Options) { o.AdminToken = "tok" })
	for _, tt := range []struct {
		path string
		hdr  map[string]string
		want int
	}{
		{"/debug/pprof/heap", nil, http.StatusUnauthorized},
		{"/debug/pprof/profile?seconds=1", nil, http.StatusUnauthorized},
		{"/debug/pprof/heap", map[string]string{"Authorization": "Bearer tok"}, http.StatusOK},
		{"/debug/pprof/", map[string]string{"Authorization": "Bearer tok"}, http.StatusOK},
	} {
		w := x.do(t, http.MethodGet, tt.path, "", tt.hdr, "")
		if w.Code != tt.want || (tt.want == http.StatusOK && w.Body.Len() == 0) {
			t.Errorf("GET %s = %d (%d bytes), want %d", tt.path, w.Code, w.Body.Len(), tt.want)
		}
	}
}
