package alert

import (
	"container/list"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// Reason names why a decision was taken; tests, logs and metrics share it.
type Reason string

// Decision reasons.
const (
	ReasonFirst     Reason = "first"          // no window open for this key
	ReasonExpired   Reason = "window_expired" // the previous window is over
	ReasonThrottled Reason = "throttled"      // inside an open window
	ReasonNoWindow  Reason = "no_throttle"    // the rule has no throttle

	ReasonBelowThreshold Reason = "below_threshold" // fewer than threshold.count events within threshold.within
	ReasonFirstSeen      Reason = "first_seen"      // first_seen: the key is new, and pages this once
	ReasonSeenBefore     Reason = "seen_before"     // first_seen: the key has paged before
	ReasonDigest         Reason = "digest"          // the rule summarises its events per interval
)

// Decision is the verdict on one matching event.
type Decision struct {
	Notify bool
	Reason Reason
	// Until is when the window that now applies to the key ends.
	Until time.Time
	// Window is the length of the window opened when Notify is true: the
	// rule's throttle, or longer under exponential backoff.
	Window time.Duration
	// Carried is what the previous window held back; set when Notify is
	// true and events were suppressed.
	Carried Throttled
	// Suppressed counts the events held back in the open window, this one
	// included, when Reason is ReasonThrottled.
	Suppressed int
	// Count is, for a rule with a threshold, how many matching events of
	// the key fell within the threshold's window, this one included.
	Count int
}

// ThrottlePolicy is how long repeats of one key are held back.
type ThrottlePolicy struct {
	Window time.Duration // 0: no throttle
	// Max, when set, makes the window exponential: after a window that held
	// events back, the next is twice as long, up to Max.
	Max time.Duration
}

// keyState is the decision state of one key: its throttle window, the
// times of its latest matches (threshold) and whether it was seen
// (first_seen).
type keyState struct {
	start, end  time.Time
	window      time.Duration
	suppressed  int
	first, last time.Time

	hits []time.Time // ring of the latest matches, at most threshold.count
	next int         // where the next hit goes once hits is full

	seen bool

	// keep is until when the state is worth keeping, on the decision
	// clock: what the store keeps it for.
	keep time.Time
}

// throttleStep applies the throttle policy p to st at now.
func throttleStep(st *keyState, now time.Time, p ThrottlePolicy) Decision {
	if p.Window <= 0 {
		return Decision{Notify: true, Reason: ReasonNoWindow, Until: now}
	}
	if !st.end.IsZero() && now.Before(st.end) {
		if st.suppressed == 0 {
			st.first = now
		}
		st.suppressed++
		st.last = now
		return Decision{Reason: ReasonThrottled, Until: st.end, Window: st.window, Suppressed: st.suppressed}
	}
	d := Decision{Notify: true, Reason: ReasonFirst}
	next := p.Window
	if !st.end.IsZero() {
		d.Reason = ReasonExpired
		if st.suppressed > 0 {
			d.Carried = Throttled{Window: st.window, Suppressed: st.suppressed, Since: st.start, First: st.first, Last: st.last}
			// The fire is still burning if it pages again within one window
			// of the last one ending: back off further. After a lull, start
			// over.
			if p.Max > 0 && now.Before(st.end.Add(st.window)) {
				next = min(max(st.window*2, p.Window), p.Max)
			}
		}
	}
	*st = keyState{start: now, end: now.Add(next), window: next, hits: st.hits, next: st.next, seen: st.seen, keep: st.keep}
	d.Until, d.Window = st.end, next
	return d
}

// Throttler holds the decision state of every key (throttle windows,
// threshold counts, first-seen marks) and makes decisions on it. State is
// held in go-cache, bounded to MaxKeys entries: when full, expired entries
// are dropped first, then the least recently used, and every eviction is
// counted.
type Throttler struct {
	mu      sync.Mutex
	cache   *gocache.Cache
	maxKeys int
	// carry is how long a key's state outlives its window when events were
	// suppressed, so the count reaches the next page even after a lull.
	carry time.Duration

	orderMu sync.Mutex // guards order and elems; never held while calling cache
	order   *list.List // keys, least recently used first
	elems   map[string]*list.Element

	evicted func() // called once per eviction

	// undo, while tracking (Track), holds the state of each key before its
	// first change; nil for a key that had none.
	undo map[string]*keyState
}

// DefaultCarry is how long a key's suppressed count outlives its window by
// default.
const DefaultCarry = 24 * time.Hour

// ThrottlerOptions configure a Throttler.
type ThrottlerOptions struct {
	MaxKeys int           // upper bound on keys held; default 100000
	Carry   time.Duration // default 24h
	OnEvict func()        // called once per key evicted to stay under MaxKeys
}

// NewThrottler returns an empty Throttler.
func NewThrottler(o ThrottlerOptions) *Throttler {
	if o.MaxKeys <= 0 {
		o.MaxKeys = 100_000
	}
	if o.Carry <= 0 {
		o.Carry = DefaultCarry
	}
	if o.OnEvict == nil {
		o.OnEvict = func() {}
	}
	t := &Throttler{
		cache:   gocache.New(gocache.NoExpiration, time.Minute),
		maxKeys: o.MaxKeys,
		carry:   o.Carry,
		order:   list.New(),
		elems:   make(map[string]*list.Element),
		evicted: o.OnEvict,
	}
	t.cache.OnEvicted(func(k string, _ any) { t.forget(k) })
	return t
}

// update runs step on key's state (a new, empty state for an unknown key)
// under the lock, then stores the state for as long as step says:
// gocache.NoExpiration to keep it until evicted.
func (t *Throttler) update(now time.Time, key string, step func(st *keyState) (Decision, time.Duration)) Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	var st *keyState
	v, existed := t.cache.Get(key)
	if existed {
		st = v.(*keyState)
	} else {
		t.makeRoom()
		st = &keyState{}
	}
	t.saveUndo(key, st, existed)
	d, life := step(st)
	if life == 0 {
		life = time.Second
	}
	st.keep = keepFor(now, life)
	t.cache.Set(key, st, life)
	t.remember(key)
	return d
}

// throttleLife is how long st's throttle window needs keeping, in real
// time: to the end of the window, and a carry period beyond it when the
// window holds suppressed events (their count goes into the next page).
func (t *Throttler) throttleLife(st *keyState, now time.Time) time.Duration {
	// One window past its end, the key still knows its window was there:
	// the next page says window_expired (not first), and exponential
	// backoff can tell a fire still burning from a new one.
	life := st.end.Sub(now) + st.window
	if st.suppressed > 0 {
		life += t.carry
	}
	return max(life, time.Second)
}

// Len returns the number of keys held, expired ones not yet swept included.
func (t *Throttler) Len() int { return t.cache.ItemCount() }

// makeRoom evicts until a new key fits. Called with t.mu held.
func (t *Throttler) makeRoom() {
	if t.cache.ItemCount() < t.maxKeys {
		return
	}
	t.cache.DeleteExpired()
	for t.cache.ItemCount() >= t.maxKeys {
		t.orderMu.Lock()
		front := t.order.Front()
		t.orderMu.Unlock()
		if front == nil {
			return
		}
		k := front.Value.(string)
		if _, ok := t.cache.Get(k); !ok {
			t.forget(k) // expired but unswept: not a real eviction
			t.cache.Delete(k)
			continue
		}
		t.cache.Delete(k)
		t.evicted()
	}
}

func (t *Throttler) remember(k string) {
	t.orderMu.Lock()
	defer t.orderMu.Unlock()
	if e, ok := t.elems[k]; ok {
		t.order.MoveToBack(e)
		return
	}
	t.elems[k] = t.order.PushBack(k)
}

func (t *Throttler) forget(k string) {
	t.orderMu.Lock()
	defer t.orderMu.Unlock()
	if e, ok := t.elems[k]; ok {
		t.order.Remove(e)
		delete(t.elems, k)
	}
}
