package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

// deliveries with nothing to list says so; a requeued dead letter keeps
// when it was first due, lists it, and its page shows it.
func TestDeliveriesEmptyAndRequeuedFirstDue(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: dir, Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := deliveries(ctx, append([]string{"--data-dir", dir}, args...), &out, &errb); err != nil {
			t.Fatalf("deliveries %v: %v\n%s", args, err, errb.String())
		}
		return out.String()
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "no dead letters in the outbox\n"},
		{[]string{"--state", "all"}, "no notifications in the outbox\n"},
		{[]string{"--state", "pending", "--receiver", "ops-slack"}, "no pending notifications for receiver ops-slack in the outbox\n"},
	} {
		if got := run(tt.args...); got != tt.want {
			t.Errorf("deliveries %v = %q, want %q", tt.args, got, tt.want)
		}
	}

	st, err = store.Open(ctx, store.Options{Dir: dir, Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	firstDue := time.Date(2026, 11, 25, 14, 3, 7, 0, time.UTC)
	id, err := st.Append(ctx, callback.Raw{Query: strings.TrimPrefix(sampleQuery, "?"), Body: []byte(`{"GroupId":"g"}`), ReceivedAt: firstDue})
	if err != nil {
		t.Fatal(err)
	}
	b := &store.Batch{Through: id, ProcessedAt: firstDue, Notifications: []store.Notification{
		{ID: "deadbeef00000001", Receiver: "ops-slack", Rule: "r", GroupKey: `GroupId="g"`, EventID: id, CreatedAt: firstDue, Data: []byte(`{"severity":"warning"}`)},
	}}
	if err := st.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx, store.Outcome{Seq: b.Notifications[0].Seq, State: store.Dead, At: firstDue.Add(time.Hour), Attempted: true, Error: "HTTP 404"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	run("--requeue", "deadbeef00000001")
	var listed []delivery.Delivery
	if err := json.Unmarshal([]byte(run("--state", "pending", "--json")), &listed); err != nil || len(listed) != 1 {
		t.Fatalf("pending: %v %v", listed, err)
	}
	if d := listed[0]; d.FirstDueAt == nil || !d.FirstDueAt.Equal(firstDue) || !d.CreatedAt.After(firstDue.Add(time.Hour)) {
		t.Errorf("requeued: first due %v, created %v; want first due %v and created at the requeue", d.FirstDueAt, d.CreatedAt, firstDue)
	}

	st, err = store.Open(ctx, store.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Deliveries(ctx, store.Filter{State: store.Pending})
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows %v: %v", rows, err)
	}
	n, err := delivery.Decode(rows[0], callback.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	footer := strings.Join(page.Build(n).Footer, "\n")
	if want := "requeued: first due 2026-11-25 14:03:07.000 UTC"; !strings.Contains(footer, want) {
		t.Errorf("page footer %q lacks %q", footer, want)
	}
}
