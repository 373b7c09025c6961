package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/callback"
)

// The trace is swept with the journal: decisions of entries received
// before the retention, attempts of notifications no longer kept.
func TestSweepTrace(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	old := t0.Add(-10 * 24 * time.Hour)
	oldID, _ := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", 1), ReceivedAt: old})
	newID, _ := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", 2), ReceivedAt: t0})
	b := &Batch{Through: newID, ProcessedAt: old,
		Notifications: []Notification{notification("s", "slack", "r", "k", oldID), notification("n", "slack", "r", "k", newID)},
		Decisions: []Decision{
			{EventID: oldID, Rule: "r", Reason: "first", Data: []byte{1}},
			{EventID: newID, Rule: "r", Reason: "throttled", Data: []byte{1}},
			{EventID: newID, Rule: "r2", Reason: "first", Data: []byte{1}},
		}}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	oldSeq := b.Notifications[0].Seq
	if err := s.Attempt(ctx, oldSeq, old, "http 500"); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, Outcome{Seq: oldSeq, State: Sent, At: old, Attempted: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, Outcome{Seq: b.Notifications[1].Seq, State: Sent, At: t0, Attempted: true}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Sweep(ctx, SweepOptions{Before: t0.Add(-7 * 24 * time.Hour), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if got.Trace != 2 { // one decision, one failed attempt
		t.Errorf("swept %d trace rows, want 2", got.Trace)
	}
	ds, _ := s.Decisions(ctx, []int64{oldID, newID})
	if len(ds[oldID]) != 0 || len(ds[newID]) != 2 {
		t.Errorf("decisions left: %v, want the recent event's two", ds)
	}
	as, _ := s.Attempts(ctx, []int64{oldSeq, b.Notifications[1].Seq})
	if len(as[oldSeq]) != 0 || len(as[b.Notifications[1].Seq]) != 1 {
		t.Errorf("attempts left: %v, want the recent notification's one", as)
	}
}

// Open windows are read soonest first, without first-seen marks (kept a
// year) crowding them out.
func TestActiveWindows(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	b := &Batch{Windows: []Window{
		{Key: "first-seen", KeepUntil: t0.Add(365 * 24 * time.Hour), Data: []byte{1}},
		{Key: "carried", KeepUntil: t0.Add(23 * time.Hour), Data: []byte{1}},
		{Key: "open", KeepUntil: t0.Add(5 * time.Minute), Data: []byte{1}},
		{Key: "over", KeepUntil: t0.Add(-time.Minute), Data: []byte{1}},
	}}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	ws, err := s.ActiveWindows(ctx, t0, t0.Add(30*24*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, w := range ws {
		keys = append(keys, w.Key)
	}
	if len(keys) != 2 || keys[0] != "open" || keys[1] != "carried" {
		t.Errorf("active windows %v, want [open carried]", keys)
	}
}

// A delivery's failures are recorded one row each, its success is its
// notification's: the trace reads both, oldest first, and the receiver's
// health its last success and the failures since.
func TestAttemptsAndHealth(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	ev, _ := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", 1), ReceivedAt: t0})
	b := &Batch{Through: ev, ProcessedAt: t0, Notifications: []Notification{
		notification("retried", "slack", "r", "k1", ev), notification("failing", "slack", "r", "k2", ev),
		notification("first", "mail", "r", "k1", ev), notification("dead", "mail", "r", "k2", ev)}}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	retried, failing, first, dead := b.Notifications[0].Seq, b.Notifications[1].Seq, b.Notifications[2].Seq, b.Notifications[3].Seq
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, step := range []func() error{
		func() error { return s.Attempt(ctx, retried, at(1), "http 500") },
		func() error { return s.Finish(ctx, Outcome{Seq: retried, State: Sent, At: at(2), Attempted: true}) },
		func() error { return s.Attempt(ctx, failing, at(3), "http 503") },
		func() error { return s.Finish(ctx, Outcome{Seq: first, State: Sent, At: at(4), Attempted: true}) },
		func() error {
			return s.Finish(ctx, Outcome{Seq: dead, State: Dead, At: at(5), Error: "550 no such user", Attempted: true})
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	as, err := s.Attempts(ctx, []int64{retried, failing, first, dead})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64][]AttemptRecord{
		retried: {{At: at(1), Error: "http 500"}, {At: at(2)}},
		failing: {{At: at(3), Error: "http 503"}},
		first:   {{At: at(4)}},
		dead:    {{At: at(5), Error: "550 no such user"}},
	}
	if d := cmp.Diff(want, as); d != "" {
		t.Errorf("Attempts (-want +got):\n%s", d)
	}
	hs, err := s.ReceiversHealth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantH := []ReceiverHealth{
		{Receiver: "mail", LastSuccess: at(4), FailingSince: at(5), LastError: "550 no such user"},
		{Receiver: "slack", LastSuccess: at(2), FailingSince: at(3), LastError: "http 503"},
	}
	if d := cmp.Diff(wantH, hs); d != "" {
		t.Errorf("ReceiversHealth (-want +got):\n%s", d)
	}
}
