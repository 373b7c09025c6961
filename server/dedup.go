package server

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// deduper remembers de-duplication keys for a fixed window. Every key has
// the same lifetime, so insertion order is expiry order: a ring of slots
// in arrival order gives O(1) expiry and eviction. At most max keys are
// held; when full the oldest is evicted early, and counted.
//
// A key is claimed before its event is journaled and settled after: a
// duplicate arriving in between (IM retrying a slow answer) waits for the
// outcome, so it is acknowledged only once the first copy is safe, and
// processed itself if the first copy could not be taken.
//
// A key is held as a 16-byte digest, and a settled one as a map entry and
// a slot: about 60 bytes, so the default 100,000 keys take a few MiB
// through a storm of distinct events.
type deduper struct {
	window time.Duration
	max    int
	evict  func()

	mu      sync.Mutex
	seen    map[dedupID]uint64 // key → the sequence number of its slot
	ring    []dedupSlot        // slot of sequence n at n % len(ring); up to 2*max
	head    uint64             // the oldest slot's sequence number
	tail    uint64             // the next one's
	pending map[dedupID]*seenKey

	// restoring, while open, is the keys taken before a restart being
	// read back: Acquire waits for them, until restoreUntil at the
	// latest. Set before serving, closed once; nil when nothing is
	// restored.
	restoring    chan struct{}
	restoreUntil time.Time
}

// restoreWait bounds how long a callback waits for the keys taken before
// a restart: past it, the callback is taken without them (a replay of an
// older callback may then be processed twice), since an answer too late
// for IM loses the alert outright.
const restoreWait = 500 * time.Millisecond

// hold makes Acquire wait for release, for restoreWait at most. Call it
// before serving.
func (d *deduper) hold() (release func()) {
	d.restoring = make(chan struct{})
	d.restoreUntil = time.Now().Add(restoreWait)
	var once sync.Once
	return func() { once.Do(func() { close(d.restoring) }) }
}

// restored reports whether no restore is under way.
func (d *deduper) restored() bool {
	if d == nil || d.restoring == nil {
		return true
	}
	select {
	case <-d.restoring:
		return true
	default:
		return false
	}
}

type dedupID [16]byte

type dedupSlot struct {
	id dedupID
	at int64 // Unix nanoseconds
}

// seenKey is a claim: a first sighting being taken.
type seenKey struct {
	id   dedupID
	seq  uint64
	done chan struct{} // closed when settled
	ok   bool          // set before done closes: the event was taken
}

func newDeduper(window time.Duration, maxKeys int, evict func()) *deduper {
	if maxKeys < 1 {
		maxKeys = DefaultDedupMaxKeys
	}
	if evict == nil {
		evict = func() {}
	}
	return &deduper{window: window, max: maxKeys, evict: evict,
		seen: make(map[dedupID]uint64), pending: make(map[dedupID]*seenKey)}
}

func dedupDigest(key string) dedupID {
	sum := sha256.Sum256([]byte(key))
	return dedupID(sum[:16])
}

// Claim decides at once whether the event with key, arriving at now, is
// processed, and settles a first sighting as taken. It is Acquire for
// callers that take every event they claim.
func (d *deduper) Claim(now time.Time, key string) DedupReason {
	if !d.enabled() {
		return DedupOff
	}
	sk, dup, err := d.acquire(context.Background(), now, key)
	if err != nil || dup {
		return DedupDuplicate
	}
	d.Settle([]*seenKey{sk}, true)
	return DedupFirst
}

// Acquire claims key for an event arriving at now. It returns the claim,
// to be settled once the event is taken or not; or dup when the key was
// already taken inside the window. When the key's first sighting is still
// being taken, Acquire waits for it (or for ctx): if it failed, the key is
// claimed afresh for this event.
func (d *deduper) Acquire(ctx context.Context, now time.Time, key string) (claim *seenKey, dup bool, err error) {
	if wait := time.Until(d.restoreUntil); wait > 0 && !d.restored() {
		t := time.NewTimer(wait)
		select {
		case <-d.restoring:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	return d.acquire(ctx, now, key)
}

// acquire is Acquire without waiting for a restore: Claim restores.
func (d *deduper) acquire(ctx context.Context, now time.Time, key string) (claim *seenKey, dup bool, err error) {
	id := dedupDigest(key)
	for {
		d.mu.Lock()
		d.expire(now.UnixNano())
		if first, ok := d.pending[id]; ok {
			d.mu.Unlock()
			select {
			case <-first.done:
			case <-ctx.Done():
				return nil, false, ctx.Err()
			}
			if first.ok {
				return nil, true, nil
			}
			continue // the first sighting was not taken: claim it for this one
		}
		if _, ok := d.seen[id]; ok {
			d.mu.Unlock()
			return nil, true, nil
		}
		sk := &seenKey{id: id, seq: d.push(id, now.UnixNano()), done: make(chan struct{})}
		d.pending[id] = sk
		d.mu.Unlock()
		return sk, false, nil
	}
}

// expire drops the slots older than the window. Called with d.mu held.
func (d *deduper) expire(now int64) {
	for d.head < d.tail {
		s := &d.ring[d.head%uint64(len(d.ring))]
		if now-s.at < int64(d.window) {
			return
		}
		d.drop(s.id, d.head)
		d.head++
	}
}

// drop forgets id if its slot is seq: a key settled as not taken, and
// claimed again since, has a newer slot. It reports whether it did.
func (d *deduper) drop(id dedupID, seq uint64) bool {
	if n, ok := d.seen[id]; ok && n == seq {
		delete(d.seen, id)
		return true
	}
	return false
}

// push adds a slot for id, making room first. Called with d.mu held.
func (d *deduper) push(id dedupID, at int64) uint64 {
	for len(d.seen) >= d.max {
		s := &d.ring[d.head%uint64(len(d.ring))]
		if d.drop(s.id, d.head) {
			d.evict()
		}
		d.head++
	}
	if d.tail-d.head == uint64(len(d.ring)) {
		if len(d.ring) < 2*d.max {
			d.resize(min(max(2*len(d.ring), 1024), 2*d.max))
		} else {
			d.compact()
		}
	}
	seq := d.tail
	d.ring[seq%uint64(len(d.ring))] = dedupSlot{id: id, at: at}
	d.seen[id] = seq
	d.tail++
	return seq
}

// resize moves the slots to a ring of n, each at its sequence number's
// place.
func (d *deduper) resize(n int) {
	ring := make([]dedupSlot, n)
	for seq := d.head; seq < d.tail; seq++ {
		ring[seq%uint64(n)] = d.ring[seq%uint64(len(d.ring))]
	}
	d.ring = ring
}

// compact drops the slots of keys forgotten early (settled as not
// taken), renumbering the rest in order. The ring holds twice max slots
// and at most max keys, so a compaction frees at least max slots.
func (d *deduper) compact() {
	n := uint64(len(d.ring))
	next := d.head
	for seq := d.head; seq < d.tail; seq++ {
		s := d.ring[seq%n]
		if n, ok := d.seen[s.id]; !ok || n != seq {
			continue
		}
		d.ring[next%n] = s
		d.seen[s.id] = next
		next++
	}
	d.tail = next
}

// Settle records whether the claimed events were taken. Keys of events not
// taken are forgotten, so that IM's retry is processed.
func (d *deduper) Settle(claims []*seenKey, taken bool) {
	if len(claims) == 0 {
		return
	}
	d.mu.Lock()
	for _, sk := range claims {
		sk.ok = taken
		if d.pending[sk.id] == sk {
			delete(d.pending, sk.id)
		}
		if !taken {
			d.drop(sk.id, sk.seq)
		}
	}
	d.mu.Unlock()
	for _, sk := range claims {
		close(sk.done)
	}
}

// Len returns the number of keys held, expired ones not yet dropped
// included.
func (d *deduper) Len() int {
	if d == nil {
		return 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}
