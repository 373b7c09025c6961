package alert

import (
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// KeyState is the decision state of one key as persisted, so that a
// restart neither pages again inside an open window nor loses what the
// window held back, a threshold's recent matches or a first-seen mark.
type KeyState struct {
	Start      time.Time     `json:"start,omitzero"`
	End        time.Time     `json:"end,omitzero"`
	Window     time.Duration `json:"window,omitempty"`
	Suppressed int           `json:"suppressed,omitempty"`
	First      time.Time     `json:"first,omitzero"`
	Last       time.Time     `json:"last,omitzero"`
	Hits       []time.Time   `json:"hits,omitempty"` // threshold: latest matches, oldest first
	Seen       bool          `json:"seen,omitempty"` // first_seen
}

// firstSeenKeep is how long a first-seen mark is kept in the store after
// the key was last seen: "ever", within reason. In memory, marks are kept
// until evicted to stay under max_keys.
const firstSeenKeep = 365 * 24 * time.Hour

// State returns the state of key, if the throttler holds any, and until
// when it is worth keeping.
func (t *Throttler) State(key string) (KeyState, time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.cache.Get(key)
	if !ok {
		return KeyState{}, time.Time{}, false
	}
	st := v.(*keyState)
	ks := KeyState{Start: st.start, End: st.end, Window: st.window, Suppressed: st.suppressed, First: st.first, Last: st.last, Seen: st.seen}
	if len(st.hits) > 0 {
		// The ring's oldest entry is at next once it is full.
		ks.Hits = append(append(ks.Hits, st.hits[st.next:]...), st.hits[:st.next]...)
	}
	return ks, st.keep, true
}

// Restore seeds key with ks, to be kept until keep, as the decisions that
// produced it would have left it. State whose keep time has passed is
// dropped.
func (t *Throttler) Restore(now time.Time, key string, ks KeyState, keep time.Time) {
	life := keep.Sub(now)
	if life <= 0 {
		return
	}
	st := &keyState{start: ks.Start, end: ks.End, window: ks.Window, suppressed: ks.Suppressed,
		first: ks.First, last: ks.Last, hits: ks.Hits, seen: ks.Seen, keep: keep}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.cache.Get(key); !ok {
		t.makeRoom()
	}
	t.cache.Set(key, st, life)
	t.remember(key)
}

// Forget drops key's state.
func (t *Throttler) Forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cache.Delete(key) // OnEvicted forgets its place in the eviction order
}

// Track starts recording which keys decisions change, with their state
// before the first change, so that a failed commit can be undone.
func (t *Throttler) Track() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.undo = map[string]*keyState{}
}

// Touched returns the keys changed since Track.
func (t *Throttler) Touched() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.undo))
	for k := range t.undo {
		keys = append(keys, k)
	}
	return keys
}

// Rollback restores every key changed since Track to its state before, and
// stops tracking.
func (t *Throttler) Rollback(now time.Time) {
	t.mu.Lock()
	undo := t.undo
	t.undo = nil
	t.mu.Unlock()
	for k, st := range undo {
		if st == nil {
			t.Forget(k)
			continue
		}
		// The state existed before the batch, which will be decided
		// again: keep it whatever its age on the wall clock.
		life := max(st.keep.Sub(now), time.Minute)
		t.mu.Lock()
		t.cache.Set(k, st, life)
		t.remember(k)
		t.mu.Unlock()
	}
}

// Untrack stops recording changes: they are committed.
func (t *Throttler) Untrack() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.undo = nil
}

// saveUndo records st's state before a change, once per key. Called with
// t.mu held.
func (t *Throttler) saveUndo(key string, st *keyState, existed bool) {
	if t.undo == nil {
		return
	}
	if _, ok := t.undo[key]; ok {
		return
	}
	if !existed {
		t.undo[key] = nil
		return
	}
	c := *st
	c.hits = append([]time.Time(nil), st.hits...)
	t.undo[key] = &c
}

// keepFor turns a go-cache life into the time the state is kept until.
func keepFor(now time.Time, life time.Duration) time.Time {
	if life == gocache.NoExpiration {
		return now.Add(firstSeenKeep)
	}
	return now.Add(life)
}
