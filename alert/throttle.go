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
)

// Decision is the throttle's verdict on one matching event.
type Decision struct {
	Notify bool
	Reason Reason
	// Until is when the window that now applies to the key ends.
	Until time.Time
	// Carried is what the previous window held back; set when Notify is
	// true and events were suppressed.
	Carried Throttled
	// Suppressed counts the events held back in the open window, this one
	// included, when Notify is false.
	Suppressed int
}

// windowState is the throttle state of one key.
type windowState struct {
	start, end  time.Time
	suppressed  int
	first, last time.Time
}

// Throttler decides, per key, whether an event starts a new throttle
// window (and pages) or falls inside an open one (and is counted). State is
// held in go-cache, bounded to MaxKeys entries: when full, expired entries
// are dropped first, then the oldest, and every eviction is counted.
type Throttler struct {
	mu      sync.Mutex
	cache   *gocache.Cache
	maxKeys int
	// carry is how long a key's state outlives its window when events were
	// suppressed, so the count reaches the next page even after a lull.
	carry time.Duration

	orderMu sync.Mutex // guards order and elems; never held while calling cache
	order   *list.List // keys, oldest first
	elems   map[string]*list.Element

	evicted func() // called once per eviction
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

// Decide applies the throttle for key at time now with the given window.
func (t *Throttler) Decide(now time.Time, key string, window time.Duration) Decision {
	if window <= 0 {
		return Decision{Notify: true, Reason: ReasonNoWindow, Until: now}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var st *windowState
	if v, ok := t.cache.Get(key); ok {
		st = v.(*windowState)
	}
	if st != nil && now.Before(st.end) {
		if st.suppressed == 0 {
			st.first = now
			// Keep the state past the window so the count is carried.
			t.cache.Set(key, st, st.end.Sub(now)+t.carry)
		}
		st.suppressed++
		st.last = now
		return Decision{Reason: ReasonThrottled, Until: st.end, Suppressed: st.suppressed}
	}
	d := Decision{Notify: true, Reason: ReasonFirst, Until: now.Add(window)}
	if st != nil {
		d.Reason = ReasonExpired
		if st.suppressed > 0 {
			d.Carried = Throttled{Window: st.end.Sub(st.start), Suppressed: st.suppressed, Since: st.start, First: st.first, Last: st.last}
		}
	} else {
		t.makeRoom()
	}
	t.cache.Set(key, &windowState{start: now, end: now.Add(window)}, window)
	t.remember(key)
	return d
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
