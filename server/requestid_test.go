package server

import (
	"bytes"
	"log/slog"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/callback"
)

// Each accepted callback's log line carries a request id, the id the
// trace shows for its journal entry (derived from the receive time);
// requests on the same clock tick still get distinct ids.
func TestCallbackRequestID(t *testing.T) {
	sample, err := os.ReadFile("../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	rec := &recorder{}
	s := New(Options{
		Logger:       slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer:   prometheus.NewRegistry(),
		CallbackPath: "/callback",
		Apps:         []uint64{appID},
		Ingester:     rec,
		Now:          func() time.Time { return fixedNow },
	})
	target := "/callback?SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=json"
	for _, r := range []string{`"Random": 1`, `"Random": 2`} {
		body := bytes.Replace(sample, []byte(`"Random": 123456`), []byte(r), 1)
		if w := post(t, s.Handler(), target, bytes.NewReader(body), int64(len(body))); w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	ids := regexp.MustCompile(`msg="callback accepted" request_id=(\S+)`).FindAllStringSubmatch(logs.String(), -1)
	if len(ids) != 2 || len(rec.raws) != 2 {
		t.Fatalf("%d log lines and %d events, want 2 and 2:\n%s", len(ids), len(rec.raws), logs.String())
	}
	for i, raw := range rec.raws {
		if want := callback.RequestID(raw.ReceivedAt); ids[i][1] != want {
			t.Errorf("request %d: logged id %s, want %s, the id of its receive time", i, ids[i][1], want)
		}
	}
	if ids[0][1] == ids[1][1] {
		t.Errorf("two requests on one clock tick share the request id %s", ids[0][1])
	}
}
