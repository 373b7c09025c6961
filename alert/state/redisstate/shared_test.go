package redisstate

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/config"
	itestutil "github.com/imalert/imalert/internal/testutil"
)

// Three replicas add their counts of one silence: the totals are the sum,
// with the union of groups, rules and receivers and the earliest and
// latest event; of the three, one claims the end notice, for a lease
// that lapses unless confirmed.
func TestSilencesSumAndClaimOnce(t *testing.T) {
	ctx := context.Background()
	srv := itestutil.StartRedis(t)
	var replicas []silence.Shared
	for range 3 {
		f, _ := open(t, srv.Addr, config.FailOpen)
		replicas = append(replicas, SharedSilences(f))
	}
	d := silence.Def{ID: "s1", CreatedAt: t0, StartsAt: t0, EndsAt: t0.Add(time.Hour), Spec: []byte(`{"matchers":{}}`)}
	if err := replicas[0].Put(ctx, d); err != nil {
		t.Fatal(err)
	}
	dv, _, err := replicas[1].Versions(ctx)
	if err != nil || dv != 1 {
		t.Fatalf("Versions = %d, %v; want 1", dv, err)
	}
	defs, err := replicas[2].Defs(ctx)
	if err != nil || len(defs) != 1 || defs[0].ID != "s1" || !defs[0].EndsAt.Equal(d.EndsAt) {
		t.Fatalf("Defs on another replica = %+v, %v", defs, err)
	}
	for i, r := range replicas {
		st := &silence.Stats{Events: i + 1, First: t0.Add(time.Duration(i) * time.Minute), Last: t0.Add(time.Duration(10+i) * time.Minute),
			Groups: []string{"@TGS#A", "@TGS#" + string(rune('B'+i))}, Rules: []string{"rate"}, Receivers: []string{"hook-" + string(rune('a'+i))}}
		if err := r.Tally(ctx, map[string]*silence.Stats{"s1": st}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := replicas[0].Totals(ctx, []string{"s1", "none"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]silence.Totals{"s1": {Events: 6, Groups: 4, First: t0, Last: t0.Add(12 * time.Minute),
		Rules: []string{"rate"}, Receivers: []string{"hook-a", "hook-b", "hook-c"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Totals (-want +got):\n%s", diff)
	}

	for _, r := range replicas {
		r.(*Silences).lease = 300 * time.Millisecond
	}
	claims := make([]silence.EndClaim, 3)
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if claims[i], err = r.ClaimEnd(ctx, "s1"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	winner := slices.Index(claims, silence.EndWon)
	if winner < 0 || slices.Index(claims[winner+1:], silence.EndWon) >= 0 || slices.Contains(claims, silence.EndSent) {
		t.Fatalf("claims %v, want one won and two taken", claims)
	}
	if c, _ := replicas[winner].ClaimEnd(ctx, "s1"); c != silence.EndWon { // its commit failed: it asks again
		t.Errorf("the winner asking again: %v, want won", c)
	}
	// The winner never confirms (it died): once its lease lapses, the
	// next replica to ask wins.
	next := replicas[(winner+1)%3]
	for c := silence.EndTaken; c == silence.EndTaken; time.Sleep(20 * time.Millisecond) {
		var err error
		if c, err = next.ClaimEnd(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := replicas[winner].ClaimEnd(ctx, "s1"); c != silence.EndTaken {
		t.Errorf("the first winner back: %v, want taken", c)
	}
	if err := next.EndSent(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	for i, r := range replicas {
		if c, _ := r.ClaimEnd(ctx, "s1"); c != silence.EndSent {
			t.Errorf("replica %d once confirmed: %v, want sent", i, c)
		}
	}
}

// Under fail open an unanswered end claim is won, so that the notice is
// sent (maybe twice); under fail closed it is an error, asked again later.
func TestSilenceClaimPolicy(t *testing.T) {
	for policy, want := range map[string]bool{config.FailOpen: true, config.FailClosed: false} {
		f, _ := open(t, closedAddr(t), policy)
		c, err := SharedSilences(f).ClaimEnd(context.Background(), "s1")
		if (c == silence.EndWon) != want || (err == nil) != want {
			t.Errorf("%s: ClaimEnd = %v, %v; want won %v", policy, c, err, want)
		}
	}
}

// replicaBudgets returns the shared budgets of n replicas on one Redis.
func replicaBudgets(t *testing.T, n int) []*Budgets {
	t.Helper()
	srv := itestutil.StartRedis(t)
	var out []*Budgets
	for range n {
		f, _ := open(t, srv.Addr, config.FailClosed)
		out = append(out, SharedBudgets(f).(*Budgets))
	}
	return out
}

// Replicas share a receiver's period and count: the numbers taken are
// 1, 2, 3... whichever replica takes them, a page over the budget is not
// counted, a page given back is taken off the count (never below zero)
// and its place taken by the next, and a new period starts when the open
// one is over.
func TestBudgetsShared(t *testing.T) {
	ctx := context.Background()
	replicas := replicaBudgets(t, 3)
	now := time.Now().Truncate(time.Millisecond)
	const per = time.Minute
	start, err := replicas[0].Period(ctx, "hook", now, per)
	if err != nil || !start.Equal(now) {
		t.Fatalf("first Period = %v, %v; want %v", start, err, now)
	}
	later, err := replicas[1].Period(ctx, "hook", now.Add(10*time.Second), per)
	if err != nil || !later.Equal(start) {
		t.Fatalf("Period on another replica = %v, %v; want the open one %v", later, err, start)
	}
	for i := range 7 {
		n, err := replicas[i%3].Take(ctx, "hook", start, per, 7)
		if err != nil || n != i+1 {
			t.Fatalf("Take %d = %d, %v", i+1, n, err)
		}
	}
	if n, err := replicas[0].Take(ctx, "hook", start, per, 7); err != nil || n != 8 {
		t.Fatalf("Take over the budget = %d, %v; want 8 (held)", n, err)
	}
	if err := replicas[1].Give(ctx, "hook", start); err != nil {
		t.Fatal(err)
	}
	if _, n, err := replicas[2].Held(ctx, "hook", start); err != nil || n != 6 {
		t.Errorf("Sent after one held and one given back = %d, %v; want 6", n, err)
	}
	if n, err := replicas[2].Take(ctx, "hook", start, per, 7); err != nil || n != 7 {
		t.Errorf("Take after one given back = %d, %v; want 7", n, err)
	}
	next, err := replicas[2].Period(ctx, "hook", now.Add(per), per)
	if err != nil || !next.Equal(now.Add(per)) {
		t.Errorf("Period once over = %v, %v; want a new one at %v", next, err, now.Add(per))
	}
	if _, n, _ := replicas[0].Held(ctx, "hook", next); n != 0 {
		t.Errorf("new period counts %d, want 0", n)
	}
	if err := replicas[0].Give(ctx, "hook", next.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, n, _ := replicas[0].Held(ctx, "hook", next.Add(time.Hour)); n != 0 {
		t.Errorf("a period with nothing counted, given back one: %d, want 0", n)
	}
	if b := SharedBudgets(nil); b != nil {
		t.Errorf("SharedBudgets(memory) = %v, want nil", b)
	}
	if s := SharedSilences(nil); s != nil {
		t.Errorf("SharedSilences(memory) = %v, want nil", s)
	}
}
