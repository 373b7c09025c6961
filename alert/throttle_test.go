package alert

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottleDecide(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 13, 52, 40, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	const win = 10 * time.Minute
	th := NewThrottler(ThrottlerOptions{})
	steps := []struct {
		at         time.Duration
		key        string
		notify     bool
		reason     Reason
		suppressed int       // Decision.Suppressed when held back
		carried    Throttled // when notifying
	}{
		{0, "a", true, ReasonFirst, 0, Throttled{}},
		{time.Second, "a", false, ReasonThrottled, 1, Throttled{}},
		{time.Second, "b", true, ReasonFirst, 0, Throttled{}},
		{2 * time.Minute, "a", false, ReasonThrottled, 2, Throttled{}},
		{9*time.Minute + 59*time.Second, "a", false, ReasonThrottled, 3, Throttled{}},
		{win, "a", true, ReasonExpired, 0, Throttled{Window: win, Suppressed: 3, Since: t0, First: at(time.Second), Last: at(9*time.Minute + 59*time.Second)}},
		{win + time.Second, "a", false, ReasonThrottled, 1, Throttled{}},
		// A quiet key's next page after the window carries nothing.
		{3 * win, "b", true, ReasonExpired, 0, Throttled{}},
		// A long lull: the count of the window before is still carried.
		{10 * win, "a", true, ReasonExpired, 0, Throttled{Window: win, Suppressed: 1, Since: at(win), First: at(win + time.Second), Last: at(win + time.Second)}},
	}
	for i, s := range steps {
		d := th.Decide(at(s.at), s.key, win)
		if d.Notify != s.notify || d.Reason != s.reason {
			t.Fatalf("step %d: got notify=%v reason=%s, want %v %s", i, d.Notify, d.Reason, s.notify, s.reason)
		}
		if !d.Notify && d.Suppressed != s.suppressed {
			t.Errorf("step %d: suppressed = %d, want %d", i, d.Suppressed, s.suppressed)
		}
		if d.Notify && d.Carried != s.carried {
			t.Errorf("step %d: carried = %+v, want %+v", i, d.Carried, s.carried)
		}
	}
	if d := th.Decide(t0, "c", 0); !d.Notify || d.Reason != ReasonNoWindow {
		t.Errorf("no window: %+v", d)
	}
}

func TestThrottleMaxKeys(t *testing.T) {
	evictions := 0
	th := NewThrottler(ThrottlerOptions{MaxKeys: 100, OnEvict: func() { evictions++ }})
	now := time.Now()
	for i := range 250 {
		th.Decide(now, fmt.Sprint("key-", i), time.Hour)
	}
	if th.Len() > 100 {
		t.Errorf("holds %d keys, want at most 100", th.Len())
	}
	if evictions != 150 {
		t.Errorf("evictions = %d, want 150", evictions)
	}
	// The oldest keys went first: the newest is still throttled.
	if d := th.Decide(now, "key-249", time.Hour); d.Notify {
		t.Error("newest key was evicted")
	}
	if d := th.Decide(now, "key-0", time.Hour); !d.Notify {
		t.Error("oldest key was kept")
	}
}

// A restored window throttles and carries its count exactly as the window
// it was saved from.
func TestThrottleRestore(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 13, 52, 40, 0, time.UTC)
	const win = 10 * time.Minute
	a := NewThrottler(ThrottlerOptions{})
	a.Decide(t0, "k", win)
	a.Decide(t0.Add(time.Second), "k", win)
	a.Decide(t0.Add(2*time.Second), "k", win)
	w, ok := a.Window("k")
	if !ok || w.Suppressed != 2 || !w.End.Equal(t0.Add(win)) {
		t.Fatalf("Window = %+v %v", w, ok)
	}
	b := NewThrottler(ThrottlerOptions{})
	b.Restore(t0.Add(3*time.Second), "k", w)
	if d := b.Decide(t0.Add(4*time.Second), "k", win); d.Notify || d.Suppressed != 3 {
		t.Errorf("restored window: %+v, want throttled with 3 suppressed", d)
	}
	d := b.Decide(t0.Add(win), "k", win)
	if !d.Notify || d.Carried.Suppressed != 3 || !d.Carried.First.Equal(t0.Add(time.Second)) || !d.Carried.Since.Equal(t0) {
		t.Errorf("after the restored window: %+v", d)
	}
	// A window that is over and empty is not restored; one over with a count is.
	c := NewThrottler(ThrottlerOptions{})
	c.Restore(t0.Add(win+time.Second), "empty", Window{Start: t0, End: t0.Add(win)})
	c.Restore(t0.Add(win+time.Second), "counted", Window{Start: t0, End: t0.Add(win), Suppressed: 1, First: t0, Last: t0})
	if _, ok := c.Window("empty"); ok {
		t.Error("an empty, expired window was restored")
	}
	if d := c.Decide(t0.Add(win+2*time.Second), "counted", win); !d.Notify || d.Carried.Suppressed != 1 {
		t.Errorf("carried count lost: %+v", d)
	}
	c.Forget("counted")
	if _, ok := c.Window("counted"); ok {
		t.Error("Forget kept the key")
	}
}
