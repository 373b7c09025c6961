package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert/trace"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

func TestEventsEndpoint(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, g := range []string{"@a", "@b"} {
		if _, err := st.Append(ctx, callback.Raw{Query: "SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException",
			Body: []byte(`{"GroupId":"` + g + `","ErrorCode":10023}`), ReceivedAt: fixedNow}); err != nil {
			t.Fatal(err)
		}
	}
	s := New(Options{Registerer: prometheus.NewRegistry(), CallbackPath: "/callback", Apps: []uint64{appID}, Ingester: &recorder{},
		Trace: trace.NewReader(st, nil, callback.Limits{}), AdminToken: "tok", Now: func() time.Time { return fixedNow }})
	tests := []struct {
		path   string
		token  string
		status int
		ids    []int64
	}{
		{"/api/v1/events", "tok", 200, []int64{2, 1}},
		{"/api/v1/events?group_id=@a", "tok", 200, []int64{1}},
		{"/api/v1/events?error_code=10023&limit=1", "tok", 200, []int64{2}},
		{"/api/v1/events?since=1h", "tok", 200, []int64{2, 1}},
		{"/api/v1/events/2", "tok", 200, []int64{2}},
		{"/api/v1/events", "", 401, nil},
		{"/api/v1/events", "wrong", 401, nil},
		{"/api/v1/events?error_code=x", "tok", 400, nil},
		{"/api/v1/events?since=yesterday", "tok", 400, nil},
		{"/api/v1/events?limit=100000", "tok", 400, nil},
		{"/api/v1/events/x", "tok", 400, nil},
		{"/api/v1/events/9", "tok", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.token, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			w := httptest.NewRecorder()
			s.AdminHandler().ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				return
			}
			var p trace.Page
			var one trace.Event
			var ids []int64
			if err := json.Unmarshal(w.Body.Bytes(), &p); err == nil && p.Events != nil {
				for _, e := range p.Events {
					ids = append(ids, e.ID)
				}
			} else if err := json.Unmarshal(w.Body.Bytes(), &one); err == nil {
				ids = append(ids, one.ID)
			}
			if len(ids) != len(tt.ids) || (len(ids) > 0 && ids[0] != tt.ids[0]) {
				t.Errorf("ids %v, want %v", ids, tt.ids)
			}
		})
	}
}
