package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

func TestDeliveriesEndpoint(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, _ := st.Append(ctx, callback.Raw{Query: "SdkAppid=1", Body: []byte(`{}`), ReceivedAt: fixedNow})
	b := &store.Batch{Through: id, ProcessedAt: fixedNow}
	for i, recv := range []string{"ops-slack", "ops-slack", "ops-mail"} {
		b.Notifications = append(b.Notifications, store.Notification{ID: "n" + string(rune('0'+i)), Receiver: recv, Rule: "r", GroupKey: "k",
			EventID: id, CreatedAt: fixedNow, Data: []byte(`{"severity":"critical","throttle":{"Suppressed":4}}`)})
	}
	if err := st.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx, store.Outcome{Seq: b.Notifications[0].Seq, State: store.Dead, At: fixedNow.Add(time.Hour), Attempted: true, Error: "http_500"}); err != nil {
		t.Fatal(err)
	}
	s := New(Options{Registerer: prometheus.NewRegistry(), CallbackPath: "/callback", Apps: []uint64{appID}, Ingester: &recorder{}, Deliveries: st})
	tests := []struct {
		query  string
		status int
		ids    []string
	}{
		{"", 200, []string{"n2", "n1", "n0"}},
		{"?state=dead", 200, []string{"n0"}},
		{"?state=pending&receiver=ops-slack", 200, []string{"n1"}},
		{"?limit=1", 200, []string{"n2"}},
		{"?state=lost", 400, nil},
		{"?limit=0", 400, nil},
		{"?limit=5000", 400, nil},
		{"?limit=x", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, loopbackRequest(http.MethodGet, "/api/v1/deliveries"+tt.query))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			var out struct {
				Deliveries []struct {
					ID         string `json:"id"`
					State      string `json:"state"`
					Severity   string `json:"severity"`
					Suppressed int    `json:"suppressed"`
					LastError  string `json:"last_error"`
				} `json:"deliveries"`
				Error string `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if tt.status != 200 {
				if out.Error == "" {
					t.Error("no error message")
				}
				return
			}
			var ids []string
			for _, d := range out.Deliveries {
				ids = append(ids, d.ID)
				if d.Severity != "critical" || d.Suppressed != 4 {
					t.Errorf("delivery %+v", d)
				}
				if d.ID == "n0" && (d.State != "dead" || d.LastError != "http_500") {
					t.Errorf("dead letter %+v", d)
				}
			}
			if len(ids) != len(tt.ids) {
				t.Fatalf("ids %v, want %v", ids, tt.ids)
			}
			for i := range ids {
				if ids[i] != tt.ids[i] {
					t.Errorf("ids %v, want %v", ids, tt.ids)
				}
			}
		})
	}
}
