package redisstate

import (
	"context"
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
// latest event; of the three, one claims the end notice.
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

	var mu sync.Mutex
	var wg sync.WaitGroup
	wins := 0
	for _, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won, err := r.ClaimEnd(ctx, "s1")
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if won {
				wins++
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d replicas claimed the end notice, want 1", wins)
	}
	for _, r := range replicas { // a winner asking again (its commit failed) still wins
		if won, _ := r.ClaimEnd(ctx, "s1"); won {
			wins++
		}
	}
	if wins != 2 {
		t.Errorf("asking again: %d wins in all, want 2", wins)
	}
}

// Under fail open an unanswered end claim is won, so that the notice is
// sent (maybe twice); under fail closed it is an error, asked again later.
func TestSilenceClaimPolicy(t *testing.T) {
	for policy, want := range map[string]bool{config.FailOpen: true, config.FailClosed: false} {
		f, _ := open(t, closedAddr(t), policy)
		won, err := SharedSilences(f).ClaimEnd(context.Background(), "s1")
		if won != want || (err == nil) != want {
			t.Errorf("%s: ClaimEnd = %v, %v; want %v", policy, won, err, want)
		}
	}
}

// Replicas share a receiver's period and count: the numbers taken are
// 1, 2, 3... whichever replica takes them, and a new period starts when
// the open one is over.
func TestBudgetsShared(t *testing.T) {
	ctx := context.Background()
	srv := itestutil.StartRedis(t)
	var replicas []*Budgets
	for range 3 {
		f, _ := open(t, srv.Addr, config.FailClosed)
		replicas = append(replicas, SharedBudgets(f).(*Budgets))
	}
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
		n, err := replicas[i%3].Take(ctx, "hook", start, per)
		if err != nil || n != i+1 {
			t.Fatalf("Take %d = %d, %v", i+1, n, err)
		}
	}
	if n, err := replicas[2].Sent(ctx, "hook", start); err != nil || n != 7 {
		t.Errorf("Sent = %d, %v; want 7", n, err)
	}
	next, err := replicas[2].Period(ctx, "hook", now.Add(per), per)
	if err != nil || !next.Equal(now.Add(per)) {
		t.Errorf("Period once over = %v, %v; want a new one at %v", next, err, now.Add(per))
	}
	if n, _ := replicas[0].Sent(ctx, "hook", next); n != 0 {
		t.Errorf("new period counts %d, want 0", n)
	}
	if b := SharedBudgets(nil); b != nil {
		t.Errorf("SharedBudgets(memory) = %v, want nil", b)
	}
	if s := SharedSilences(nil); s != nil {
		t.Errorf("SharedSilences(memory) = %v, want nil", s)
	}
}
