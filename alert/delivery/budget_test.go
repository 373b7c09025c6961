package delivery_test

import (
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/store"
)

// The configuration: a webhook with budget {pages: 5, per: 20s}
// and 40 new groups in a few seconds send 5 pages, then at the period's end
// one storm page that accounts for the other 35. A restart in the middle
// of the period forgets nothing and counts nothing twice: the pages sent
// still count against the budget, and the held ones all reach the storm.
func TestBudgetStorm(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run("restart="+strconv.FormatBool(restart), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { budgetStorm(t, restart) })
		})
	}
	// Held pages are read a chunk at a time: every chunk counts.
	t.Run("chunks of 8", func(t *testing.T) {
		delivery.SetHeldChunk(t.Cleanup, 8)
		synctest.Test(t, func(t *testing.T) { budgetStorm(t, false) })
	})
	// Pages past the budget are held a chunk at a time: each is held once.
	t.Run("held 3 at a time", func(t *testing.T) {
		delivery.SetHoldChunk(t.Cleanup, 3)
		synctest.Test(t, func(t *testing.T) { budgetStorm(t, true) })
	})
}

func budgetStorm(t *testing.T, restart bool) {
	rule := strings.ReplaceAll(perGroupRule, "[slack]", "[hook]")
	budget := func(f *fake) delivery.Destination {
		d := dest("hook", f, 0, delivery.Retry{}, time.Second)
		d.Budget = delivery.Budget{Pages: 5, Per: 20 * time.Second}
		return d
	}
	st := openStore(t)
	f := &fake{}
	r := newRigOn(t, st, rule, budget(f))
	start := time.Now()
	for i := range 40 {
		r.ingest(10023, "g"+strconv.Itoa(i), i)
		time.Sleep(50 * time.Millisecond) // 40 groups over 2 seconds
	}
	r.start()
	await(t, "5 sent, 35 held", time.Hour, r.settled("hook", map[store.State]int{store.Sent: 5, store.Held: 35}))
	if got := r.metric("imalert_delivery_held_total", nil); got != 35 {
		t.Errorf("held metric = %v, want 35", got)
	}
	want, extra := 35, 0
	if restart {
		r.stop()
		f = &fake{}
		r = newRigOn(t, st, rule, budget(f))
		r.start()
		// Still inside the period: the 5 sent count, new pages are held.
		extra = 2
		for i := range extra {
			r.ingest(10023, "late"+strconv.Itoa(i), 100+i)
		}
		want += extra
		await(t, "the late pages held", time.Hour, r.settled("hook", map[store.State]int{store.Sent: 5, store.Held: want}))
	}
	await(t, "the storm page", time.Hour, r.settled("hook", map[store.State]int{store.Sent: 6, store.Merged: want}))
	if took := time.Since(start); took < 20*time.Second {
		t.Errorf("storm page after %v, before the 20s period ended", took)
	}
	var storms []*notify.Notification
	for _, n := range f.delivered() {
		if n.Storm != nil {
			storms = append(storms, n)
		}
	}
	if len(storms) != 1 {
		t.Fatalf("%d storm pages, want 1", len(storms))
	}
	s := storms[0].Storm
	if s.Held != want || s.Sent != 5 || s.Events != want || s.ByRule["r"] != want || s.Digest.Total != want || s.Digest.ByCode["10023"] != want || s.Pages != 5 {
		t.Errorf("storm = %+v, want %d held, 5 sent", s, want)
	}
	if n := len(f.delivered()); restart && n != 1 || !restart && n != 6 {
		t.Errorf("%d pages delivered by this run (restart %v)", n, restart)
	}
	if !restart {
		for i, n := range f.delivered()[:5] {
			if b := n.Budget; b == nil || b.N != i+1 || b.Pages != 5 || b.Per != 20*time.Second {
				t.Errorf("page %d says %+v, want page %d of 5 per 20s", i, b, i+1)
			}
		}
		if f.delivered()[5].Budget != nil {
			t.Error("the storm page is counted in the budget")
		}
	}
	// The budget resets: the next page goes out.
	r.ingest(10023, "after", 999)
	await(t, "the next page", time.Hour, r.settled("hook", map[store.State]int{store.Sent: 7, store.Merged: want}))
}
