package alert

import (
	"fmt"
	"testing"
	"time"

	"github.com/imalert/imalert/rules"
)

// Decide applies a fixed throttle window for key at time now: the
// throttle step of DecideRule on its own, as these tests need it.
func (t *Throttler) Decide(now time.Time, key string, window time.Duration) Decision {
	if window <= 0 {
		return Decision{Notify: true, Reason: ReasonNoWindow, Until: now}
	}
	return t.update(now, key, func(st *keyState) (Decision, time.Duration) {
		d := throttleStep(st, now, ThrottlePolicy{Window: window})
		return d, t.throttleLife(st, now)
	})
}

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

// A restored state throttles, counts and carries exactly as the state it
// was saved from; the keep time says when saved state is worth restoring.
func TestThrottleRestore(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 13, 52, 40, 0, time.UTC)
	const win = 10 * time.Minute
	a := NewThrottler(ThrottlerOptions{})
	a.Decide(t0, "k", win)
	a.Decide(t0.Add(time.Second), "k", win)
	a.Decide(t0.Add(2*time.Second), "k", win)
	w, keep, ok := a.State("k")
	if !ok || w.Suppressed != 2 || !w.End.Equal(t0.Add(win)) {
		t.Fatalf("State = %+v %v", w, ok)
	}
	if want := t0.Add(win + win + DefaultCarry); !keep.Equal(want) {
		t.Errorf("keep = %v, want a window past the window's end plus the carry time, %v", keep, want)
	}
	b := NewThrottler(ThrottlerOptions{})
	b.Restore(t0.Add(3*time.Second), "k", w, keep)
	if d := b.Decide(t0.Add(4*time.Second), "k", win); d.Notify || d.Suppressed != 3 {
		t.Errorf("restored window: %+v, want throttled with 3 suppressed", d)
	}
	d := b.Decide(t0.Add(win), "k", win)
	if !d.Notify || d.Carried.Suppressed != 3 || !d.Carried.First.Equal(t0.Add(time.Second)) || !d.Carried.Since.Equal(t0) {
		t.Errorf("after the restored window: %+v", d)
	}
	// State kept until before now is not restored; state kept beyond it is.
	c := NewThrottler(ThrottlerOptions{})
	now := t0.Add(win + time.Second)
	c.Restore(now, "stale", KeyState{Start: t0, End: t0.Add(win)}, t0.Add(win))
	c.Restore(now, "counted", KeyState{Start: t0, End: t0.Add(win), Window: win, Suppressed: 1, First: t0, Last: t0}, now.Add(time.Hour))
	if _, _, ok := c.State("stale"); ok {
		t.Error("state kept until before now was restored")
	}
	if d := c.Decide(t0.Add(win+2*time.Second), "counted", win); !d.Notify || d.Carried.Suppressed != 1 {
		t.Errorf("carried count lost: %+v", d)
	}
	c.Forget("counted")
	if _, _, ok := c.State("counted"); ok {
		t.Error("Forget kept the key")
	}
}

// Threshold counts and first-seen marks survive a save and restore, so a
// restart neither forgets a burst in progress nor pages a seen key again.
func TestThrottleRestoreThresholdAndFirstSeen(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	burst := rule(t, "threshold: {count: 3, within: 1m}\nthrottle: 10m")
	seen := rule(t, "first_seen: true")
	a := NewThrottler(ThrottlerOptions{})
	a.DecideRule(t0, burst, "k")
	a.DecideRule(t0.Add(10*time.Second), burst, "k")
	a.DecideRule(t0, seen, "k")
	b := NewThrottler(ThrottlerOptions{})
	for _, r := range []*rules.Rule{burst, seen} {
		key := r.StateKey + "\x00k"
		ks, keep, ok := a.State(key)
		if !ok {
			t.Fatalf("no state for %s", key)
		}
		b.Restore(t0.Add(15*time.Second), key, ks, keep)
	}
	if d := b.DecideRule(t0.Add(20*time.Second), burst, "k"); !d.Notify || d.Count != 3 {
		t.Errorf("third event of the burst after a restore: %+v, want a page at count 3", d)
	}
	if d := b.DecideRule(t0.Add(time.Hour), seen, "k"); d.Notify || d.Reason != ReasonSeenBefore {
		t.Errorf("first-seen key after a restore: %+v, want seen_before", d)
	}
	if _, keep, _ := b.State(seen.StateKey + "\x00k"); keep.Before(t0.Add(300 * 24 * time.Hour)) {
		t.Errorf("first-seen mark kept only until %v", keep)
	}
}

// A failed commit undoes every decision made since Track.
func TestThrottleRollback(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	th := NewThrottler(ThrottlerOptions{})
	th.Decide(t0, "old", time.Hour)
	th.Track()
	th.Decide(t0.Add(time.Second), "old", time.Hour) // suppressed 1
	th.Decide(t0.Add(time.Second), "new", time.Hour)
	if got := len(th.Touched()); got != 2 {
		t.Fatalf("Touched = %d keys, want 2", got)
	}
	th.Rollback(t0.Add(2 * time.Second))
	if st, _, _ := th.State("old"); st.Suppressed != 0 {
		t.Errorf("old key after rollback: %+v, want its state before", st)
	}
	if _, _, ok := th.State("new"); ok {
		t.Error("new key survived the rollback")
	}
	if len(th.Touched()) != 0 {
		t.Error("still tracking after rollback")
	}
}

// A destination's Retry-After is honoured up to an hour, never a day.
func TestClassifyCapsRetryAfter(t *testing.T) {
	for _, tt := range []struct{ asked, want time.Duration }{
		{7 * time.Second, 7 * time.Second},
		{24 * time.Hour, MaxRetryAfter},
	} {
		_, _, after := classify(&DeliveryError{Retryable: true, Reason: "http_429", RetryAfter: tt.asked})
		if after != tt.want {
			t.Errorf("Retry-After %v: wait %v, want %v", tt.asked, after, tt.want)
		}
	}
}

// A rolled-back batch keeps the state it found, however old on the wall
// clock: the batch will be decided again, on the events' own times.
func TestThrottleRollbackKeepsOldState(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	th := NewThrottler(ThrottlerOptions{})
	th.Decide(t0, "k", time.Minute) // long ago on the wall clock
	th.Track()
	th.Decide(t0.Add(time.Second), "k", time.Minute)
	th.Rollback(t0.Add(24 * time.Hour))
	if d := th.Decide(t0.Add(2*time.Second), "k", time.Minute); d.Notify {
		t.Errorf("after a rollback the key's window was lost: %+v", d)
	}
}
