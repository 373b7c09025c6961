package delivery_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/store"
)

// A dead letter requeued twice keeps the time it was first due; the rest
// of its record is kept as it was; an unknown id is reported.
func TestRequeueKeepsFirstDue(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	b := &store.Batch{ProcessedAt: t0, Notifications: []store.Notification{
		{ID: "n1", Receiver: "a", Rule: "r", CreatedAt: t0, Data: []byte(`{"severity":"critical","merged":2}`)},
	}}
	if err := st.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	kill := func(at time.Time) {
		t.Helper()
		if err := st.Finish(ctx, store.Outcome{Seq: b.Notifications[0].Seq, State: store.Dead, At: at, Attempted: true}); err != nil {
			t.Fatal(err)
		}
	}
	kill(t0.Add(time.Hour))
	for i, at := range []time.Time{t0.Add(2 * time.Hour), t0.Add(4 * time.Hour)} {
		if ok, err := delivery.Requeue(ctx, st, "n1", at); !ok || err != nil {
			t.Fatalf("requeue %d: %v %v", i, ok, err)
		}
		rows, err := st.Deliveries(ctx, store.Filter{State: store.Pending})
		if err != nil || len(rows) != 1 {
			t.Fatalf("rows %v: %v", rows, err)
		}
		var rec map[string]any
		if err := json.Unmarshal(rows[0].Data, &rec); err != nil {
			t.Fatal(err)
		}
		if rec["first_due"] != "2026-11-25T14:00:00Z" || rec["severity"] != "critical" || rec["merged"] != 2.0 {
			t.Errorf("requeue %d: record %v", i, rec)
		}
		if !rows[0].CreatedAt.Equal(at) {
			t.Errorf("requeue %d: created %v, want %v", i, rows[0].CreatedAt, at)
		}
		kill(at.Add(time.Hour))
	}
	if ok, err := delivery.Requeue(ctx, st, "nope", t0); ok || err != nil {
		t.Errorf("unknown id: %v %v", ok, err)
	}
}
