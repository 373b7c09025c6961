package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

// The deliveries command lists dead letters from the data directory and
// requeues one.
func TestDeliveriesCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: dir, Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.Append(ctx, callback.Raw{Query: strings.TrimPrefix(sampleQuery, "?"), Body: []byte(`{"GroupId":"g"}`), ReceivedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	b := &store.Batch{Through: id, ProcessedAt: time.Now(), Notifications: []store.Notification{
		{ID: "deadbeef00000001", Receiver: "ops-slack", Rule: "group-rate-limit", GroupKey: `GroupId="g"`, EventID: id, CreatedAt: time.Now(), Data: []byte(`{"severity":"warning"}`)},
		{ID: "cafe000000000002", Receiver: "ops-mail", Rule: "group-rate-limit", GroupKey: `GroupId="g"`, EventID: id, CreatedAt: time.Now(), Data: []byte(`{"severity":"warning"}`)},
	}}
	if err := st.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx, store.Outcome{Seq: b.Notifications[0].Seq, State: store.Dead, At: time.Now(), Attempted: true, Error: "slack: webhook: HTTP 404"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		err := deliveries(ctx, args, &out, &errb)
		return out.String(), errb.String(), err
	}
	out, _, err := run("--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "deadbeef00000001") || !strings.Contains(out, "HTTP 404") || strings.Contains(out, "cafe000000000002") {
		t.Errorf("dead letters:\n%s", out)
	}
	out, _, err = run("--data-dir", dir, "--state", "all", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var all []map[string]any
	if err := json.Unmarshal([]byte(out), &all); err != nil || len(all) != 2 {
		t.Fatalf("--json --state all: %v\n%s", err, out)
	}
	if out, _, err = run("--data-dir", dir, "--requeue", "deadbeef00000001"); err != nil || !strings.Contains(out, "pending again") {
		t.Fatalf("requeue: %v %s", err, out)
	}
	if out, _, _ = run("--data-dir", dir, "--state", "pending"); strings.Count(out, "\n") != 3 {
		t.Errorf("pending after requeue:\n%s", out)
	}
	if _, _, err := run("--data-dir", dir, "--requeue", "deadbeef00000001"); err == nil {
		t.Error("requeueing a pending notification succeeded")
	}
	if _, _, err := run("--data-dir", dir, "--state", "lost"); !errors.Is(err, errUsage) {
		t.Errorf("bad state: %v", err)
	}
	if _, _, err := run("--data-dir", t.TempDir()); err == nil {
		t.Error("listing an empty data directory succeeded")
	}
}
