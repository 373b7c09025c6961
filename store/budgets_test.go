package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// Closing a period over many held pages lists them; ApplyMerges marks
// them merged a chunk at a time. Until a page is marked, it belongs to no
// open period, and what a close listed is marked after a restart too.
func TestCloseBudgetInChunks(t *testing.T) {
	prev := mergeChunk
	mergeChunk = 7
	t.Cleanup(func() { mergeChunk = prev })
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	ev := appendOne(t, s)
	// hold holds n new pages and returns the seqs of all held.
	hold := func(n int) []int64 {
		t.Helper()
		b := &Batch{Through: ev, ProcessedAt: t0}
		for i := range n {
			b.Notifications = append(b.Notifications, notification(fmt.Sprint("p", len(b.Notifications), "-", n), "hook", "r1", fmt.Sprint("k", i), ev))
		}
		if err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
		if got, err := s.HoldPending(ctx, "hook", n+1); err != nil || got != n {
			t.Fatalf("HoldPending = %d, %v; want %d", got, err, n)
		}
		refs, err := s.HeldRefs(ctx, "hook")
		if err != nil || len(refs) < n {
			t.Fatalf("HeldRefs = %d, %v; want at least %d", len(refs), err, n)
		}
		return seqsOf(refs)
	}
	states := func() map[string]int {
		t.Helper()
		out := map[string]int{}
		rows, err := s.r.QueryContext(ctx, `SELECT state, count(*) FROM notifications WHERE rule = 'r1' GROUP BY state`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var st string
			var n int
			if err := rows.Scan(&st, &n); err != nil {
				t.Fatal(err)
			}
			out[st] = n
		}
		return out
	}

	applyAll := func() {
		t.Helper()
		for more, chunks := true, 0; more; chunks++ {
			var err error
			if more, err = s.ApplyMerges(ctx); err != nil {
				t.Fatal(err)
			}
			if chunks > 100 {
				t.Fatal("ApplyMerges never runs out")
			}
		}
	}

	// A close merges 50 held pages into its storm page, 7 at a time.
	seqs := hold(50)
	storm := notification("storm-1", "hook", BudgetRule, "storm", 0)
	if err := s.CloseBudget(ctx, BudgetClose{Receiver: "hook", Storm: &storm, Into: seqs, At: t0}); err != nil {
		t.Fatal(err)
	}
	if refs, err := s.HeldRefs(ctx, "hook"); err != nil || len(refs) != 0 {
		t.Errorf("HeldRefs after the close = %d, %v; want none", len(refs), err)
	}
	if more, err := s.ApplyMerges(ctx); err != nil || !more {
		t.Fatalf("first ApplyMerges: more %v, %v; want more", more, err)
	}
	if got := states(); got["merged"] != 7 {
		t.Errorf("after one chunk: %v, want 7 merged", got)
	}
	applyAll()
	if got := states(); got["merged"] != 50 || got["held"] != 0 {
		t.Fatalf("after the close: %v, want 50 merged", got)
	}
	var into int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(DISTINCT merged_into), max(merged_into) FROM notifications WHERE state = 'merged'`).Scan(new(int), &into); err != nil || into != storm.Seq {
		t.Errorf("merged into %d (%v), want the storm page %d", into, err, storm.Seq)
	}

	// A close whose marking did not happen (a crash just after it): its
	// pages are held in no period, and are marked after a restart.
	seqs = hold(20)
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.mergeHeld(ctx, tx, seqs, nil, t0) }); err != nil {
		t.Fatal(err)
	}
	if refs, err := s.HeldRefs(ctx, "hook"); err != nil || len(refs) != 0 {
		t.Errorf("HeldRefs = %v, %v; want none: a closed period merged them", refs, err)
	}
	if p, err := s.OpenBudget(ctx, "hook"); err != nil || p.Held != 0 {
		t.Errorf("OpenBudget = %+v, %v; want none held", p, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	if got := states(); got["held"] != 20 {
		t.Fatalf("before ApplyMerges: %v, want 20 still held", got)
	}
	applyAll()
	if got := states(); got["merged"] != 70 || got["held"] != 0 {
		t.Errorf("after ApplyMerges: %v, want 70 merged", got)
	}
	// A close by seq: the held pages up to the last one read, not one
	// held after it.
	seqs = hold(30)
	last, err := s.LastHeld(ctx, "hook")
	if err != nil || last != seqs[len(seqs)-1] {
		t.Fatalf("LastHeld = %d, %v; want %d", last, err, seqs[len(seqs)-1])
	}
	later := hold(1)[30]
	storm = notification("storm-2", "hook", BudgetRule, "storm", 0)
	if err := s.CloseBudget(ctx, BudgetClose{Receiver: "hook", Storm: &storm, HeldThrough: last, At: t0}); err != nil {
		t.Fatal(err)
	}
	applyAll()
	if got := states(); got["merged"] != 100 || got["held"] != 1 {
		t.Errorf("after a close through %d: %v, want 100 merged, 1 held", last, got)
	}
	if refs, err := s.HeldRefs(ctx, "hook"); err != nil || len(refs) != 1 || refs[0].Seq != later {
		t.Errorf("HeldRefs = %+v, %v; want only seq %d", refs, err, later)
	}
	var left int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM merging`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rows left in merging (%v)", left, err)
	}
}

func seqsOf(refs []HeldRef) []int64 {
	out := make([]int64, len(refs))
	for i, r := range refs {
		out[i] = r.Seq
	}
	return out
}
