package redisstate

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/config"
	itestutil "github.com/imalert/imalert/internal/testutil"
)

// heldPage is one page held, as delivery counts it.
func heldPage(rule, severity, group string) *delivery.HeldPages {
	h := delivery.NewHeldPages()
	h.Held, h.Events = 1, 3
	h.ByRule[rule], h.Severities[severity] = 1, 1
	h.Digest.Total, h.Digest.ByCode["10023"], h.Digest.ByGroupType["Public"] = 1, 1, 1
	h.Digest.Groups[group], h.Digest.Senders["jared"] = 1, 1
	return h
}

// Three replicas fold the pages they hold into one count, each page once;
// of three claims of the storm page one wins, a page folded after it
// belongs to the next period, and a claim whose lease lapsed unsent is
// taken over; once marked sent, no one wins it.
func TestStormShared(t *testing.T) {
	ctx := context.Background()
	rs := replicaBudgets(t, 3)
	start, per := t0, time.Minute
	for range 7 {
		if _, err := rs[0].Take(ctx, "hook", start, per, 7); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		h := heldPage([]string{"rate", "muted"}[i%2], []string{"info", "critical"}[i%2], fmt.Sprintf("@TGS#%d", i%4))
		for range 2 { // a page folded again (a retried hold) counts once
			if ok, err := rs[i%3].Fold(ctx, "hook", start, per, fmt.Sprint("page", i), h); err != nil || !ok {
				t.Fatalf("Fold %d = %v, %v", i, ok, err)
			}
		}
	}
	folded, err := rs[1].Folded(ctx, "hook", start, []string{"page0", "page5", "other"})
	if err != nil || !cmp.Equal(folded, map[string]bool{"page0": true, "page5": true, "other": false}) {
		t.Errorf("Folded = %v, %v", folded, err)
	}

	claims := make([]delivery.StormClaim, 3)
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if claims[i], err = r.ClaimStorm(ctx, "hook", start); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	winner := -1
	for i, c := range claims {
		if c == delivery.StormWon {
			if winner >= 0 {
				t.Fatalf("claims %v: two winners", claims)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("claims %v: no winner", claims)
	}
	if ok, err := rs[0].Fold(ctx, "hook", start, per, "late", heldPage("rate", "info", "@TGS#9")); err != nil || ok {
		t.Errorf("Fold after the claim = %v, %v; want refused", ok, err)
	}

	h, sent, err := rs[(winner+1)%3].Held(ctx, "hook", start)
	if err != nil {
		t.Fatal(err)
	}
	want := delivery.NewHeldPages()
	want.Held, want.Events = 6, 18
	want.ByRule["rate"], want.ByRule["muted"] = 3, 3
	want.Severities["info"], want.Severities["critical"] = 3, 3
	want.Digest.Total, want.Digest.ByCode["10023"], want.Digest.ByGroupType["Public"] = 6, 6, 6
	want.Digest.Groups = map[string]int{"@TGS#0": 2, "@TGS#1": 2, "@TGS#2": 1, "@TGS#3": 1}
	want.Digest.Senders["jared"] = 6
	if diff := cmp.Diff(want, h, cmp.AllowUnexported(notify.Digest{})); diff != "" || sent != 7 {
		t.Errorf("Held: sent %d, want 7; (-want +got):\n%s", sent, diff)
	}

	// The winner never marks it sent (it died): once its lease lapses,
	// the next replica to ask sends it.
	key := rs[winner].held("hook", start, "storm")
	if ttl := rs[winner].rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > claimLease {
		t.Errorf("claim's lease %v, want up to %v", ttl, claimLease)
	}
	if c, _ := rs[winner].ClaimStorm(ctx, "hook", start); c != delivery.StormWon {
		t.Errorf("the winner asking again: %v, want won", c)
	}
	rs[winner].rdb.Del(ctx, key) // the lease lapses
	other := rs[(winner+2)%3]
	if c, err := other.ClaimStorm(ctx, "hook", start); err != nil || c != delivery.StormWon {
		t.Fatalf("claim after the lease lapsed = %v, %v; want won", c, err)
	}
	if c, _ := rs[winner].ClaimStorm(ctx, "hook", start); c != delivery.StormTaken {
		t.Errorf("the first winner back: %v, want taken", c)
	}
	if err := other.StormSent(ctx, "hook", start); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if c, _ := r.ClaimStorm(ctx, "hook", start); c != delivery.StormSent {
			t.Errorf("replica %d after sent: %v, want sent", i, c)
		}
	}
}

// A period's groups are bounded as a digest's: past the bound they are
// counted as others.
func TestStormGroupsBounded(t *testing.T) {
	ctx := context.Background()
	f, _ := open(t, itestutil.StartRedis(t).Addr, config.FailClosed)
	b := SharedBudgets(f).(*Budgets)
	h := heldPage("rate", "info", "@TGS#x")
	for i := range notify.MaxDigestKeys + 4 {
		h.Digest.Groups[fmt.Sprint("@TGS#", i)] = 1
	}
	if _, err := b.Fold(ctx, "hook", t0, time.Minute, "p1", h); err != nil {
		t.Fatal(err)
	}
	got, _, err := b.Held(ctx, "hook", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Digest.Groups) != notify.MaxDigestKeys || got.Digest.OtherGroups != 5 {
		t.Errorf("%d groups and %d others, want %d and 5", len(got.Digest.Groups), got.Digest.OtherGroups, notify.MaxDigestKeys)
	}
}
