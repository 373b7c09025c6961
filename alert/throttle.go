package alert

import (
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/rules"
)

// Decision is the verdict on one matching event.
type Decision struct {
	Notify bool
	Reason notify.Reason
	// Until is when the window that now applies to the key ends.
	Until time.Time
	// Window is the length of the window opened when Notify is true: the
	// rule's throttle, or longer under exponential backoff.
	Window time.Duration
	// Carried is what the previous window held back; set when Notify is
	// true and events were suppressed.
	Carried notify.Throttled
	// Suppressed counts the events held back in the open window, this one
	// included, when Reason is notify.ReasonThrottled.
	Suppressed int
	// Count is, for a rule with a threshold, how many matching events of
	// the key fell within the threshold's window, this one included.
	Count int
}

// Carry is how long a key's state outlives its window when events were
// suppressed, so the count reaches the next page even after a lull.
const Carry = 24 * time.Hour

// firstSeenKeep is how long a first-seen mark is kept after the key was
// last seen: "ever", within reason.
const firstSeenKeep = 365 * 24 * time.Hour

// stateless reports whether r decides without state: every match pages.
func stateless(r *rules.Rule) bool {
	return r.Threshold.Count == 0 && !r.FirstSeen && r.Throttle <= 0
}

// stateKey is where the decision state of r's group key lives: per rule
// StateKey, so a reload that keeps the rule's decision settings keeps its
// windows and counts.
func stateKey(r *rules.Rule, key string) string { return r.StateKey + "\x00" + key }

// decide is the verdict on a match of rule r at now (the event's receive
// time), given the key's stored entry (the zero Entry if none), and the
// entry to store in its place. It is pure: it reads no clock, and leaves
// old untouched.
func decide(old state.Entry, now time.Time, r *rules.Rule) (Decision, state.Entry) {
	var st state.KeyState
	if old.Live(now) {
		st = old.State
	}
	count := 0
	if r.Threshold.Count > 0 {
		st.Hits = thresholdHits(st.Hits, now, r.Threshold.Count)
		count = within(st.Hits, now, r.Threshold.Within)
	}
	var d Decision
	switch {
	case count < r.Threshold.Count:
		d = Decision{Reason: notify.ReasonBelowThreshold, Until: now}
	case r.FirstSeen && st.Seen:
		d = Decision{Reason: notify.ReasonSeenBefore, Until: now}
	case r.FirstSeen:
		st.Seen = true
		d = Decision{Notify: true, Reason: notify.ReasonFirstSeen, Until: now}
	default:
		d, st = throttleStep(st, now, r.Throttle, r.ThrottleMax)
	}
	d.Count = count
	return d, state.Entry{State: st, KeepUntil: keepUntil(st, now, r)}
}

// thresholdHits returns hits with now added, keeping the latest count.
func thresholdHits(hits []time.Time, now time.Time, count int) []time.Time {
	if len(hits) >= count {
		hits = hits[len(hits)-count+1:]
	}
	out := make([]time.Time, 0, len(hits)+1)
	return append(append(out, hits...), now)
}

// within counts the hits less than w before now.
func within(hits []time.Time, now time.Time, w time.Duration) int {
	n := 0
	for _, h := range hits {
		if now.Sub(h) < w {
			n++
		}
	}
	return n
}

// throttleStep applies a throttle of window (exponential up to maxWindow
// when that is set) to st at now.
func throttleStep(st state.KeyState, now time.Time, window, maxWindow time.Duration) (Decision, state.KeyState) {
	if window <= 0 {
		return Decision{Notify: true, Reason: notify.ReasonNoWindow, Until: now}, st
	}
	if !st.End.IsZero() && now.Before(st.End) {
		if st.Suppressed == 0 {
			st.First = now
		}
		st.Suppressed++
		st.Last = now
		return Decision{Reason: notify.ReasonThrottled, Until: st.End, Window: st.Window, Suppressed: st.Suppressed}, st
	}
	d := Decision{Notify: true, Reason: notify.ReasonFirst}
	next := window
	if !st.End.IsZero() {
		d.Reason = notify.ReasonExpired
		if st.Suppressed > 0 {
			d.Carried = notify.Throttled{Window: st.Window, Suppressed: st.Suppressed, Since: st.Start, First: st.First, Last: st.Last}
		}
		// The fire is still burning if the window held events back (a
		// quiet summary reported them and cleared the count, not Last) and
		// it pages again within one window of the end: back off further.
		// After a lull, start over.
		if !st.Last.IsZero() && maxWindow > 0 && now.Before(st.End.Add(st.Window)) {
			next = min(max(st.Window*2, window), maxWindow)
		}
	}
	st = state.KeyState{Start: now, End: now.Add(next), Window: next, Hits: st.Hits, Seen: st.Seen}
	d.Until, d.Window = st.End, next
	return d, st
}

// keepUntil is until when st is worth keeping after a decision at now.
func keepUntil(st state.KeyState, now time.Time, r *rules.Rule) time.Time {
	if r.FirstSeen {
		return now.Add(firstSeenKeep)
	}
	keep := now.Add(time.Second)
	if !st.End.IsZero() {
		// One window past its end, the key still knows its window was
		// there: the next page says window_expired (not first), and
		// exponential backoff can tell a fire still burning from a new
		// one. Suppressed events are carried into the next page even
		// after a lull.
		end := st.End.Add(st.Window)
		if st.Suppressed > 0 {
			end = end.Add(Carry)
		}
		keep = later(keep, end)
	}
	if r.Threshold.Count > 0 {
		keep = later(keep, now.Add(r.Threshold.Within))
	}
	return keep
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
