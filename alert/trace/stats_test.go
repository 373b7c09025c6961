package trace

import (
	"fmt"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
)

func TestTopKeepsHeavyNames(t *testing.T) {
	s := NewStats()
	now := time.Unix(1_800_000_000, 0)
	observe := func(group, sender string) {
		s.Observe(&callback.Event{GroupID: group, FromAccount: sender, ReceivedAt: now})
	}
	// Three heavy groups among 10,000 one-off groups and senders: far more
	// names than the counter holds.
	for i := range 10_000 {
		observe(fmt.Sprintf("once_%d", i), fmt.Sprintf("u_%d", i))
		if i%10 == 0 {
			observe("heavy_a", "spammer")
		}
		if i%20 == 0 {
			observe("heavy_b", "spammer")
		}
		if i%40 == 0 {
			observe("heavy_c", "u_0")
		}
	}
	groups, senders := s.Top(3)
	for i, want := range []struct {
		name string
		min  int
	}{{"heavy_a", 1000}, {"heavy_b", 500}, {"heavy_c", 250}} {
		if i >= len(groups) || groups[i].Name != want.name || groups[i].Count < want.min {
			t.Fatalf("groups = %v, want %s with at least %d at %d", groups, want.name, want.min, i)
		}
	}
	if senders[0].Name != "spammer" || senders[0].Count < 1500 {
		t.Fatalf("senders = %v, want spammer first with at least 1500", senders)
	}
	for _, c := range []*topCounter{s.groups[0], s.senders[0]} {
		if len(c.items) != maxNames || len(c.idx) != maxNames {
			t.Fatalf("counter holds %d items, %d indexed; want %d", len(c.items), len(c.idx), maxNames)
		}
		for i, it := range c.items {
			if c.idx[it.Name] != it || it.at != i {
				t.Fatalf("%q is indexed at %d, item at %d", it.Name, it.at, i)
			}
			if i > 0 && it.Count < c.items[(i-1)/2].Count {
				t.Fatalf("heap order broken at %d: %v", i, c.items)
			}
		}
	}
}

func TestTopCountsExactlyBelowCapacity(t *testing.T) {
	c := newTopCounter()
	want := map[string]int{"a": 5, "b": 3, "c": 1}
	for name, n := range want {
		for range n {
			c.add(name)
		}
	}
	c.add("")
	got := map[string]int{}
	for _, it := range c.items {
		got[it.Name] = it.Count
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts = %v, want %v", got, want)
	}
}

// BenchmarkStatsObserve counts a storm's events: 1,000 groups, 5,000
// senders, so most senders miss the counter.
func BenchmarkStatsObserve(b *testing.B) {
	s := NewStats()
	now := time.Unix(1_800_000_000, 0)
	evs := make([]callback.Event, 5000)
	for i := range evs {
		evs[i] = callback.Event{GroupID: fmt.Sprintf("g_%d", i%1000), FromAccount: fmt.Sprintf("u_%d", i), ReceivedAt: now}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.Observe(&evs[i%len(evs)])
	}
}
