package state

import (
	"container/list"
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
type Memory struct {
	mu      sync.Mutex // guards everything below, and go-cache's callbacks
	cache   *gocache.Cache
	order   *list.List // *held, least recently put first
	elems   map[string]*list.Element
	max     int
	onEvict func()
	swept   time.Time
}

// MinLife is the least time Memory keeps an entry, on the wall clock.
const MinLife = time.Hour

// sweepEvery is how often Put reclaims expired entries.
const sweepEvery = time.Minute

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
		order:   list.New(),
		elems:   map[string]*list.Element{},
		max:     o.MaxKeys,
		onEvict: o.OnEvict,
	}
	m.cache.OnEvicted(func(k string, _ any) { m.forget(k) })
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
	e := *v.(*Entry)
	e.State = e.State.clone()
	return e, true, nil
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
	if el, ok := m.elems[key]; ok {
		// Overwrite in place: no allocation per decision.
		m.order.MoveToBack(el)
		p := el.Value.(*held).entry
		hits := append(p.State.Hits[:0], e.State.Hits...)
		who := append(p.State.Who[:0], e.State.Who...)
		names := append(p.State.Names[:0], e.State.Names...)
		*p = e
		p.State.Hits, p.State.Who, p.State.Names = hits, who, names
		m.cache.Set(key, p, life) // renews the expiry
		return nil
	}
	m.makeRoom()
	p := new(Entry)
	*p = e
	p.State = e.State.clone()
	m.elems[key] = m.order.PushBack(&held{key: key, entry: p})
	m.cache.Set(key, p, life)
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cache.Delete(key) // OnEvicted forgets its place in the order
	return nil
}

// Len returns the number of entries held, expired ones not yet swept
// included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cache.ItemCount()
}

// held is an entry in the eviction order.
type held struct {
	key   string
	entry *Entry // the value go-cache holds for key
}

// makeRoom evicts until a new key fits. Called with m.mu held.
func (m *Memory) makeRoom() {
	if m.cache.ItemCount() < m.max {
		return
	}
	m.cache.DeleteExpired()
	for m.cache.ItemCount() >= m.max {
		front := m.order.Front()
		if front == nil {
			return
		}
		m.cache.Delete(front.Value.(*held).key)
		m.onEvict()
	}
}

// forget drops k from the eviction order. Called with m.mu held, by
// go-cache when an entry is deleted.
func (m *Memory) forget(k string) {
	if el, ok := m.elems[k]; ok {
		m.order.Remove(el)
		delete(m.elems, k)
	}
}
