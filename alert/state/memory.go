package state

import (
	"context"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/imalert/imalert/config"
)

// Memory is the Store of a single node: go-cache, bounded to MaxKeys
// entries. Its expiry only reclaims memory, on the wall clock: an entry
// lives until its KeepUntil, and at least MinLife, so that replaying old
// events finds what deciding them wrote. No decision depends on it: a
// decision reads KeepUntil against the event's time. When full, expired
// entries go first, then the least recently put, each one counted.
// Expired entries are found by a scan of every key, so a full store scans
// at most once a second (reclaimEvery): in a storm over more distinct keys
// than MaxKeys, a scan per new key cost a full 100,000-key store 1 ms per
// decision (BenchmarkMemoryPutFull; 1.5 µs now), and processing fell
// minutes behind.
//
// Each entry is held in its encoded form (AppendMarshal), a few dozen
// bytes where a KeyState takes two hundred, in a list threaded through
// the entries themselves: at the default 100,000 keys that is the
// difference between about 20 and 40 MiB of heap.
type Memory struct {
	mu      sync.Mutex // guards everything below, and go-cache's callbacks
	cache   *gocache.Cache
	order   held // sentinel of the eviction order: order.next is the least recently put
	max     int
	onEvict func()
	swept   time.Time
}

// held is an entry: go-cache's value for its key, and a link in the
// eviction order.
type held struct {
	key        string
	data       []byte // the KeyState, encoded
	keepUntil  time.Time
	prev, next *held
}

// MinLife is the least time Memory keeps an entry, on the wall clock.
const MinLife = time.Hour

// sweepEvery is how often Put reclaims expired entries.
const sweepEvery = time.Minute

// reclaimEvery is how often a full store looks for expired entries before
// evicting a live one.
const reclaimEvery = time.Second

// MemoryOptions configure a Memory store.
type MemoryOptions struct {
	MaxKeys int    // default config.DefaultMaxKeys
	OnEvict func() // called once per entry evicted to stay under MaxKeys
}

// NewMemory returns an empty Memory store.
func NewMemory(o MemoryOptions) *Memory {
	if o.MaxKeys <= 0 {
		o.MaxKeys = config.DefaultMaxKeys
	}
	if o.OnEvict == nil {
		o.OnEvict = func() {}
	}
	m := &Memory{
		// No janitor: expired entries are swept by Put, under m.mu, so
		// OnEvicted always runs with m.mu held.
		cache:   gocache.New(gocache.NoExpiration, 0),
		max:     o.MaxKeys,
		onEvict: o.OnEvict,
	}
	m.order.prev, m.order.next = &m.order, &m.order
	m.cache.OnEvicted(func(_ string, v any) { m.unlink(v.(*held)) })
	return m
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (Entry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.cache.Get(key)
	if !ok {
		return Entry{}, false, nil
	}
	h := v.(*held)
	st, err := Unmarshal(h.data)
	if err != nil {
		return Entry{}, false, err // cannot happen: Put encoded it
	}
	return Entry{State: st, KeepUntil: h.keepUntil}, true, nil
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, key string, e Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now() // go-cache's expiry is on the wall clock
	if now.Sub(m.swept) >= sweepEvery {
		m.swept = now
		m.cache.DeleteExpired()
	}
	life := max(e.KeepUntil.Sub(now), MinLife)
	if v, ok := m.cache.Get(key); ok {
		// Overwrite in place: no allocation per decision.
		h := v.(*held)
		h.data = AppendMarshal(h.data[:0], e.State)
		h.keepUntil = e.KeepUntil
		m.unlink(h)
		m.pushBack(h)
		m.cache.Set(key, h, life) // renews the expiry
		return nil
	}
	// An expired entry go-cache no longer returns may still be held:
	// drop it, and its place in the order, first.
	m.cache.Delete(key)
	m.makeRoom(now)
	h := &held{key: key, data: Marshal(e.State), keepUntil: e.KeepUntil}
	m.pushBack(h)
	m.cache.Set(key, h, life)
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cache.Delete(key) // OnEvicted unlinks it from the order
	return nil
}

// Len returns the number of entries held, expired ones not yet swept
// included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cache.ItemCount()
}

// makeRoom evicts until a new key fits. Called with m.mu held.
func (m *Memory) makeRoom(now time.Time) {
	if m.cache.ItemCount() < m.max {
		return
	}
	if now.Sub(m.swept) >= reclaimEvery {
		m.swept = now
		m.cache.DeleteExpired()
	}
	for m.cache.ItemCount() >= m.max && m.order.next != &m.order {
		m.cache.Delete(m.order.next.key)
		m.onEvict()
	}
}

func (m *Memory) pushBack(h *held) {
	h.prev, h.next = m.order.prev, &m.order
	h.prev.next, m.order.prev = h, h
}

// unlink drops h from the eviction order. Called with m.mu held, also by
// go-cache when an entry is deleted.
func (m *Memory) unlink(h *held) {
	if h.prev == nil {
		return
	}
	h.prev.next, h.next.prev = h.next, h.prev
	h.prev, h.next = nil, nil
}
