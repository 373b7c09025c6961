package alert

import "time"

// Window is the state of one throttle key, as persisted so that a restart
// does not page again inside an open window, and keeps the count of what
// the window held back.
type Window struct {
	Start, End  time.Time
	Suppressed  int
	First, Last time.Time
}

// Window returns the state of key, if the throttle holds any.
func (t *Throttler) Window(key string) (Window, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.cache.Get(key)
	if !ok {
		return Window{}, false
	}
	st := v.(*windowState)
	return Window{Start: st.start, End: st.end, Suppressed: st.suppressed, First: st.first, Last: st.last}, true
}

// Restore seeds key with w as of now, as Decide would have left it. A
// window that is over and holds no suppressed events is dropped, as is one
// whose count is older than the carry time.
func (t *Throttler) Restore(now time.Time, key string, w Window) {
	ttl := w.End.Sub(now)
	if w.Suppressed > 0 {
		ttl += t.carry
	}
	if ttl <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.cache.Get(key); !ok {
		t.makeRoom()
	}
	t.cache.Set(key, &windowState{start: w.Start, end: w.End, suppressed: w.Suppressed, first: w.First, last: w.Last}, ttl)
	t.remember(key)
}

// Forget drops key's state.
func (t *Throttler) Forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cache.Delete(key) // OnEvicted forgets its place in the eviction order
}

// Carry is how long a key's suppressed count outlives its window.
func (t *Throttler) Carry() time.Duration { return t.carry }
