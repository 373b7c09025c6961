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
