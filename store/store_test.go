package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imalert/imalert/callback"
)

const sendQuery = "SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=json&ClientIP=10.0.0.1&OptPlatform=RESTAPI"

var t0 = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Dir: dir, Sync: SyncNormal, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func sample(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func body(group string, seq int) []byte {
	return fmt.Appendf(nil, `{"CallbackCommand":"Group.CallbackSendMsgException","GroupId":%q,"Type":"Public","From_Account":"u%d","ErrorCode":10023,"ErrorInfo":"seq %d"}`, group, seq, seq)
}

// Concurrent appends all get distinct ids and share commits; the entries
// survive a close and reopen, come back unprocessed in order, and a
// committed batch marks them processed.
func TestJournal(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	s, err := Open(context.Background(), Options{Dir: dir, Sync: SyncFull, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	ids := make([]int64, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			id, err := s.Append(context.Background(), callback.Raw{Query: sendQuery, Body: body("g", i), ReceivedAt: t0.Add(time.Duration(i) * time.Millisecond)})
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}()
	}
	close(start)
	wg.Wait()
	seen := map[int64]bool{}
	for _, id := range ids {
		if id <= 0 || seen[id] {
			t.Fatalf("bad or repeated id %d", id)
		}
		seen[id] = true
	}
	commits := promtest.CollectAndCount(reg, "imalert_journal_commit_batch_size")
	if commits != 1 {
		t.Fatalf("batch size histogram missing")
	}
	if got := histogramCount(t, reg, "imalert_journal_commit_batch_size"); got >= n {
		t.Errorf("%d appends took %d commits: no group commit", n, got)
	} else {
		t.Logf("%d appends in %d commits", n, got)
	}
	select {
	case <-s.Appended():
	default:
		t.Error("no append signal")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), callback.Raw{Query: sendQuery, Body: body("g", 0)}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v, want ErrClosed", err)
	}

	s = open(t, dir)
	evs, err := s.Unprocessed(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n {
		t.Fatalf("%d unprocessed after reopen, want %d", len(evs), n)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Fatal("unprocessed entries out of order")
		}
	}
	// Each append's id is its own entry's, whichever rows shared an INSERT.
	byID := map[int64][]byte{}
	for _, e := range evs {
		byID[e.ID] = e.Raw.Body
	}
	for i, id := range ids {
		if !bytes.Equal(byID[id], body("g", i)) {
			t.Fatalf("append %d got id %d, which holds %s", i, id, byID[id])
		}
	}
	// Process the first half.
	half := evs[n/2-1].ID
	if err := s.Commit(context.Background(), &Batch{After: 0, Through: half, ProcessedAt: t0}); err != nil {
		t.Fatal(err)
	}
	rest, err := s.Unprocessed(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != n/2 || rest[0].ID <= half {
		t.Errorf("after processing half: %d unprocessed, first id %d", len(rest), rest[0].ID)
	}
	if c, _ := s.CountUnprocessed(context.Background()); c != n/2 {
		t.Errorf("CountUnprocessed = %d, want %d", c, n/2)
	}
	if got, _ := s.Unprocessed(context.Background(), rest[9].ID, 5); len(got) != 5 || got[0].ID != rest[10].ID {
		t.Errorf("Unprocessed after a cursor returned %d entries", len(got))
	}

	// A reader that holds some entries gets only their ids and times;
	// from the first it lacks, entries are read in full. With the cursor
	// as last committed (half), what the database holds is known without
	// reading it.
	at := map[int64]time.Time{}
	for _, e := range rest {
		at[e.ID] = e.Raw.ReceivedAt
	}
	holds := func(ok func(int64) bool) func(int64) (time.Time, bool) {
		return func(id int64) (time.Time, bool) { return at[id], ok(id) }
	}
	for _, after := range []int64{0, half} {
		for _, tc := range []struct {
			name string
			held func(int64) bool
			full int // index of the first entry read in full
		}{
			{"all held", func(int64) bool { return true }, 10},
			{"none held", func(int64) bool { return false }, 0},
			{"first four held", func(id int64) bool { return id <= rest[3].ID }, 4},
			{"a gap", func(id int64) bool { return id != rest[6].ID }, 6},
		} {
			got, err := s.UnprocessedExcept(context.Background(), after, 10, holds(tc.held))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 10 {
				t.Fatalf("after %d, %s: %d entries, want 10", after, tc.name, len(got))
			}
			for i, e := range got {
				if e.ID != rest[i].ID || !e.Raw.ReceivedAt.Equal(rest[i].Raw.ReceivedAt) {
					t.Errorf("after %d, %s: entry %d is id %d at %v, want %d at %v", after, tc.name, i, e.ID, e.Raw.ReceivedAt, rest[i].ID, rest[i].Raw.ReceivedAt)
				}
				if full := !(e.Raw.Body == nil && e.Raw.Query == ""); full != (i >= tc.full) {
					t.Errorf("after %d, %s: entry %d read in full: %v", after, tc.name, i, full)
				} else if full && !bytes.Equal(e.Raw.Body, rest[i].Raw.Body) {
					t.Errorf("after %d, %s: entry %d has another's body", after, tc.name, i)
				}
			}
		}
	}
	// The database is not read only when after is the cursor as
	// committed: the times given by the reader are then the ones returned.
	later := func(id int64) (time.Time, bool) { return at[id].Add(time.Second), true }
	for _, tc := range []struct {
		after  int64
		unread bool
	}{{half, true}, {0, false}, {rest[0].ID, false}} {
		got, err := s.UnprocessedExcept(context.Background(), tc.after, 3, later)
		if err != nil || len(got) != 3 {
			t.Fatalf("after %d: %d entries, %v", tc.after, len(got), err)
		}
		if unread := !got[0].Raw.ReceivedAt.Equal(at[got[0].ID]); unread != tc.unread {
			t.Errorf("after %d: database not read: %v, want %v", tc.after, unread, tc.unread)
		}
	}
}

// Only one daemon may use a data directory; the CLI may open it beside.
func TestExclusive(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, err := Open(ctx, Options{Dir: dir, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Options{Dir: dir, Exclusive: true}); err == nil || !strings.Contains(err.Error(), "in use by another imalert") {
		t.Fatalf("second exclusive open: %v", err)
	}
	cli, err := Open(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatalf("non-exclusive open beside: %v", err)
	}
	_ = cli.Close()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, Options{Dir: dir, Exclusive: true})
	if err != nil {
		t.Fatalf("exclusive open after close: %v", err)
	}
	_ = b.Close()
}

func histogramCount(t *testing.T, g prometheus.Gatherer, name string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// A dry run reads entries since a time and re-parses them with the current
// parser, next to a running writer, through a read-only store.
func TestEventsSince(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	raws := []callback.Raw{
		{Query: sendQuery, Body: sample(t), ReceivedAt: t0.Add(-48 * time.Hour)},
		{Query: sendQuery, Body: sample(t), ReceivedAt: t0.Add(-time.Hour)},
		{Query: "SdkAppid=1400000000&CallbackCommand=Group.CallbackAfterNewMemberJoin", Body: []byte(`{"GroupId":"@TGS#x","NewMemberList":[]}`), ReceivedAt: t0.Add(-time.Minute)},
		// Accepted by an older parser, refused by this one: reported, not fatal.
		{Query: sendQuery, Body: []byte(`{"GroupId":7}`), ReceivedAt: t0},
	}
	for _, r := range raws {
		if _, err := s.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// What the daemon acknowledged reaches the database within a fold.
	if err := s.settle(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(ctx, Options{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	type got struct {
		Command, Group string
		At             time.Time
		Err            bool
	}
	var out []got
	err = ro.EventsSince(ctx, t0.Add(-24*time.Hour), func(e Event) error {
		ev, err := e.Parse(callback.Limits{})
		if err != nil {
			out = append(out, got{At: e.Raw.ReceivedAt, Err: true})
			return nil
		}
		out = append(out, got{ev.Command, ev.GroupID, ev.ReceivedAt, false})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []got{
		{"Group.CallbackSendMsgException", "@TGS#2J4SZEAEL", t0.Add(-time.Hour), false},
		{"Group.CallbackAfterNewMemberJoin", "@TGS#x", t0.Add(-time.Minute), false},
		{"", "", t0, true},
	}
	if d := cmp.Diff(want, out); d != "" {
		t.Errorf("EventsSince (-want +got):\n%s", d)
	}
	stop := errors.New("stop")
	n := 0
	if err := ro.EventsSince(ctx, time.Time{}, func(Event) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("EventsSince did not stop at the callback's error: %v after %d", err, n)
	}
	if _, err := ro.Append(ctx, raws[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("append on a read-only store: %v", err)
	}
	if _, err := Open(ctx, Options{Dir: filepath.Join(dir, "missing"), ReadOnly: true}); err == nil {
		t.Error("read-only open of a missing database succeeded")
	}
}

// appendOne journals one callback (group g1) and returns its id.
func appendOne(t *testing.T, s *Store) int64 {
	t.Helper()
	ev, err := s.Append(context.Background(), callback.Raw{Query: sendQuery, Body: body("g1", 1), ReceivedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func notification(id, receiver, rule, key string, ev int64) Notification {
	return Notification{ID: id, Receiver: receiver, Rule: rule, GroupKey: key, EventID: ev, CreatedAt: t0, Data: []byte(`{"id":"` + id + `"}`)}
}

// The outbox: notifications written with the batch that processed their
// events, delivered oldest first per receiver, merged, retried, given up,
// rerouted, listed and requeued.
func TestOutbox(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	ev := appendOne(t, s)
	b := &Batch{Through: ev, ProcessedAt: t0, Notifications: []Notification{
		notification("a", "slack", "r1", "k1", ev),
		notification("b", "slack", "r1", "k2", ev),
		notification("c", "slack", "r1", "k1", ev),
		notification("d", "mail", "r1", "k1", ev),
	}, Windows: []Window{{Key: "r1\x00k1", KeepUntil: t0.Add(time.Minute), Data: []byte(`{"suppressed":2}`)}},
		Digests: []Digest{{Rule: "r2", Data: []byte(`{"n":1}`)}}}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, n := range b.Notifications {
		if n.Seq == 0 {
			t.Fatal("Commit did not set Seq")
		}
	}
	if c, _ := s.CountUnprocessed(ctx); c != 0 {
		t.Errorf("event not marked processed")
	}
	counts, _ := s.PendingCounts(ctx)
	if d := cmp.Diff(map[string]int{"slack": 3, "mail": 1}, counts); d != "" {
		t.Errorf("PendingCounts (-want +got):\n%s", d)
	}
	head, ok, err := s.NextPending(ctx, "slack")
	if err != nil || !ok || head.ID != "a" || head.Event == nil || head.Event.ID != ev || head.State != Pending {
		t.Fatalf("NextPending = %+v %v %v", head, ok, err)
	}
	if parsed, err := head.Event.Parse(callback.Limits{}); err != nil || parsed.GroupID != "g1" {
		t.Errorf("head event parse: %v %v", parsed, err)
	}
	like, err := s.PendingLike(ctx, "slack", "r1", "k1", 10)
	if err != nil || len(like) != 2 || like[0].ID != "a" || like[1].ID != "c" {
		t.Fatalf("PendingLike = %v %v", like, err)
	}
	if err := s.Attempt(ctx, head.Seq, t0.Add(time.Second), "http_500"); err != nil {
		t.Fatal(err)
	}
	// Sent, with c merged into it, remembering the incident.
	if err := s.Finish(ctx, Outcome{Seq: head.Seq, Merged: []int64{like[1].Seq}, State: Sent, At: t0.Add(2 * time.Second),
		Attempted: true, Data: []byte(`{"merged":1}`), Ref: "C1/1.2", Incident: &Incident{Receiver: "slack", Rule: "r1", GroupKey: "k1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, Outcome{Seq: head.Seq, State: Sent, At: t0}); !errors.Is(err, ErrNotPending) {
		t.Errorf("finishing twice: %v, want ErrNotPending", err)
	}
	inc, ok, err := s.Incident(ctx, "slack", "r1", "k1")
	if err != nil || !ok || inc.Ref != "C1/1.2" || !inc.Last.Equal(t0.Add(2*time.Second)) {
		t.Errorf("Incident = %+v %v %v", inc, ok, err)
	}
	if _, ok, _ := s.Incident(ctx, "slack", "r1", "other"); ok {
		t.Error("incident for an unknown key")
	}
	// b is next for slack; it is given up.
	next, ok, _ := s.NextPending(ctx, "slack")
	if !ok || next.ID != "b" {
		t.Fatalf("next = %+v", next)
	}
	if err := s.Finish(ctx, Outcome{Seq: next.Seq, State: Dead, At: t0.Add(3 * time.Second), Attempted: true, Error: "http_404"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.NextPending(ctx, "slack"); ok {
		t.Error("slack still has pending notifications")
	}
	// d is rerouted from mail to a fallback receiver.
	mail, _, _ := s.NextPending(ctx, "mail")
	repl := notification("d2", "fallback", "r1", "k1", ev)
	out, err := s.Reroute(ctx, t0.Add(4*time.Second), []int64{mail.Seq}, []Notification{repl})
	if err != nil || len(out) != 1 || out[0].Seq == 0 {
		t.Fatalf("Reroute = %v %v", out, err)
	}
	if out, err := s.Reroute(ctx, t0, []int64{mail.Seq}, []Notification{notification("d3", "fallback", "r1", "k1", ev)}); err != nil || len(out) != 0 {
		t.Errorf("rerouting twice made %d replacements (%v)", len(out), err)
	}

	type row struct {
		ID         string
		State      State
		Attempts   int
		LastError  string
		Merged     bool
		Ref        string
		DataMerged bool
	}
	all, err := s.Deliveries(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []row
	for _, n := range all {
		rows = append(rows, row{n.ID, n.State, n.Attempts, n.LastError, n.MergedInto != 0, n.Ref, string(n.Data) == `{"merged":1}`})
	}
	want := []row{
		{"d2", Pending, 0, "", false, "", false},
		{"d", Rerouted, 0, "", false, "", false},
		{"c", Merged, 0, "", true, "", false},
		{"b", Dead, 1, "http_404", false, "", false},
		{"a", Sent, 2, "http_500", false, "C1/1.2", true},
	}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("Deliveries (-want +got):\n%s", d)
	}
	dead, _ := s.Deliveries(ctx, Filter{State: Dead, Receiver: "slack"})
	if len(dead) != 1 || dead[0].ID != "b" {
		t.Errorf("dead letters = %v", dead)
	}
	if ok, err := s.Requeue(ctx, "b", t0.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("Requeue = %v %v", ok, err)
	}
	if ok, _ := s.Requeue(ctx, "a", t0); ok {
		t.Error("requeued a sent notification")
	}
	again, ok, _ := s.NextPending(ctx, "slack")
	if !ok || again.ID != "b" || again.Attempts != 0 || !again.CreatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("requeued = %+v", again)
	}

	ws, err := s.Windows(ctx)
	if err != nil || len(ws) != 1 || ws[0].Key != "r1\x00k1" || !ws[0].KeepUntil.Equal(t0.Add(time.Minute)) || string(ws[0].Data) != `{"suppressed":2}` {
		t.Errorf("Windows = %+v %v", ws, err)
	}
	if err := s.Commit(ctx, &Batch{Windows: []Window{{Key: "r1\x00k1"}}}); err != nil {
		t.Fatal(err)
	}
	if ws, _ := s.Windows(ctx); len(ws) != 0 {
		t.Errorf("window not deleted: %+v", ws)
	}
	ds, err := s.Digests(ctx)
	if err != nil || len(ds) != 1 || string(ds[0].Data) != `{"n":1}` {
		t.Errorf("Digests = %+v %v", ds, err)
	}
	if err := s.Commit(ctx, &Batch{Digests: []Digest{{Rule: "r2"}}}); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.Digests(ctx); len(ds) != 0 {
		t.Errorf("digest not deleted")
	}
}

// Retention deletes old processed entries and finished notifications, but
// never an unprocessed entry, a pending notification or the entry a kept
// notification shows.
func TestSweep(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	old := t0.Add(-10 * 24 * time.Hour)
	var ids []int64
	for i := range 4 {
		id, err := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", i), ReceivedAt: old})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	recent, _ := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", 9), ReceivedAt: t0})
	// ids[0..2] processed; ids[3] is not. ids[1] has a pending notification,
	// ids[2] a sent one that retention drops.
	b := &Batch{Through: ids[2], ProcessedAt: old, Notifications: []Notification{
		notification("p", "slack", "r", "k", ids[1]),
		notification("s", "slack", "r", "k2", ids[2]),
	}, Windows: []Window{
		{Key: "over", KeepUntil: t0.Add(-time.Minute), Data: []byte("{}")},
		{Key: "carried", KeepUntil: t0.Add(23 * time.Hour), Data: []byte("{}")},
		{Key: "carry-over", KeepUntil: t0.Add(-24 * time.Hour), Data: []byte("{}")},
		{Key: "open", KeepUntil: t0.Add(time.Minute), Data: []byte("{}")},
	}}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, Outcome{Seq: b.Notifications[1].Seq, State: Sent, At: old}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Sweep(ctx, SweepOptions{Before: t0.Add(-7 * 24 * time.Hour), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Swept{Events: 2, Notifications: 1, Windows: 2}); got != want {
		t.Errorf("Sweep = %+v, want %+v", got, want)
	}
	var left []int64
	_ = s.EventsSince(ctx, time.Time{}, func(e Event) error { left = append(left, e.ID); return nil })
	if d := cmp.Diff([]int64{ids[1], ids[3], recent}, left); d != "" {
		t.Errorf("entries left (-want +got):\n%s", d)
	}
	ws, _ := s.Windows(ctx)
	var keys []string
	for _, w := range ws {
		keys = append(keys, w.Key)
	}
	if d := cmp.Diff([]string{"open", "carried"}, keys); d != "" { // kept longest last
		t.Errorf("windows left (-want +got):\n%s", d)
	}
}

// BenchmarkAppend measures journal appends from many goroutines sharing
// commits, without HTTP.
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []string{SyncNormal, SyncFull} {
		b.Run("sync="+mode, func(b *testing.B) {
			s, err := Open(context.Background(), Options{Dir: b.TempDir(), Sync: mode, Exclusive: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			raw := callback.Raw{Query: sendQuery, Body: body("g", 1), ReceivedAt: t0}
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Append(context.Background(), raw); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// HoldPending holds a receiver's oldest pending pages, up to its limit:
// never a storm page, another receiver's page, or one no longer pending.
func TestHoldPending(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	ev := appendOne(t, s)
	b := &Batch{Through: ev, ProcessedAt: t0, Notifications: []Notification{
		notification("a", "hook", "r1", "k1", ev),
		notification("storm", "hook", BudgetRule, "storm", 0),
		notification("b", "hook", "r1", "k2", ev),
		notification("other", "mail", "r1", "k1", ev),
		notification("c", "hook", "r1", "k3", ev),
		notification("d", "hook", "r2", "k1", ev),
	}}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		limit, want int
		pending     []string // hook's pending pages after, oldest first
	}{
		{2, 2, []string{"storm", "c", "d"}},
		{10, 2, []string{"storm"}},
		{10, 0, []string{"storm"}},
	} {
		n, err := s.HoldPending(ctx, "hook", step.limit)
		if err != nil || n != step.want {
			t.Fatalf("HoldPending(%d) = %d, %v; want %d", step.limit, n, err, step.want)
		}
		ps, err := s.Pending(ctx, "hook", 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		if d := cmp.Diff(step.pending, ids); d != "" {
			t.Errorf("pending after HoldPending(%d) (-want +got):\n%s", step.limit, d)
		}
	}
	refs, err := s.HeldRefs(ctx, "hook")
	if err != nil || len(refs) != 4 || refs[0].ID != "a" || refs[3].ID != "d" {
		t.Errorf("HeldRefs = %+v, %v; want a, b, c, d", refs, err)
	}
	if counts, _ := s.PendingCounts(ctx); counts["mail"] != 1 {
		t.Errorf("another receiver's page was held: %v", counts)
	}
}

// BenchmarkDeliver measures what recording a page's delivery costs the
// store: the oldest pending page read, then marked sent, each in a
// transaction of its own as the dispatcher does.
func BenchmarkDeliver(b *testing.B) {
	s, err := Open(context.Background(), Options{Dir: b.TempDir(), Sync: SyncFull, Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	ns := make([]Notification, b.N)
	for i := range ns {
		ns[i] = notification(fmt.Sprint(i), "hook", "r1", fmt.Sprint("k", i), 0)
	}
	for len(ns) > 0 {
		chunk := ns[:min(len(ns), 1000)]
		ns = ns[len(chunk):]
		if err := s.Commit(ctx, &Batch{ProcessedAt: t0, Notifications: chunk}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		n, ok, err := s.NextPending(ctx, "hook")
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		if err := s.Finish(ctx, Outcome{Seq: n.Seq, State: Sent, At: t0, Attempted: true, Ref: "ts"}); err != nil {
			b.Fatal(err)
		}
	}
	// CPU holds steady where the time of a synced commit does not.
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu_us/op")
}

// cpuTime returns the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestMultiRow(t *testing.T) {
	for _, tc := range []struct{ one, want string }{
		{`INSERT INTO t (a, b) VALUES (?, ?)`, `INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?)`},
		{`INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT (a) DO UPDATE SET b = excluded.b`,
			`INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?) ON CONFLICT (a) DO UPDATE SET b = excluded.b`},
	} {
		if got := multiRow(tc.one, 3); got != tc.want {
			t.Errorf("multiRow(%q) = %q, want %q", tc.one, got, tc.want)
		}
	}
}

// A batch writes decision states many at a time: new keys inserted, known
// ones replaced, those without data deleted.
func TestWriteWindows(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	window := func(i int, data string) Window {
		w := Window{Key: fmt.Sprint("k", i), KeepUntil: t0.Add(time.Duration(i) * time.Second)}
		if data != "" {
			w.Data = []byte(data)
		}
		return w
	}
	var first, second []Window
	for i := range 20 {
		first = append(first, window(i, "old"))
	}
	for i := 10; i < 30; i++ { // 10 to 14 deleted, 15 to 19 replaced, 20 to 29 new
		data := "new"
		if i < 15 {
			data = ""
		}
		second = append(second, window(i, data))
	}
	for _, ws := range [][]Window{first, second} {
		if err := s.Commit(ctx, &Batch{ProcessedAt: t0, Windows: ws}); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := s.Windows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, w := range ws {
		got[w.Key] = string(w.Data) + "@" + fmt.Sprint(w.KeepUntil.Sub(t0).Seconds())
	}
	want := map[string]string{}
	for i := range 30 {
		switch {
		case i < 10:
			want[fmt.Sprint("k", i)] = fmt.Sprint("old@", i)
		case i >= 15:
			want[fmt.Sprint("k", i)] = fmt.Sprint("new@", i)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("windows (-want +got):\n%s", d)
	}
}

// A transaction's first use of a statement must not wait for a begin that
// is preparing statements for the writer: that begin waits in turn for
// the transaction's connection.
func TestPrepareWhileWriting(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	conn, tx, err := s.begin(ctx, "NORMAL")
	if err != nil {
		t.Fatal(err)
	}
	// Not prepared yet: queued for the writer's next begin.
	if _, err := s.exec(ctx, tx, `UPDATE progress SET through = through WHERE id = 0`); err != nil {
		t.Fatal(err)
	}
	began := make(chan error, 1)
	go func() {
		conn, tx, err := s.begin(ctx, "NORMAL") // prepares, waiting for the connection
		if err == nil {
			err = tx.Commit()
			_ = conn.Close()
		}
		began <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it wait
	used := make(chan error, 1)
	go func() {
		_, err := s.exec(ctx, tx, `UPDATE progress SET processed_at = processed_at WHERE id = 0`)
		used <- err
	}()
	select {
	case err := <-used:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a statement in the transaction waited for the next begin: deadlock")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	if err := <-began; err != nil {
		t.Fatal(err)
	}
}
