// Package state holds the decision state of each key (throttle window,
// threshold matches, first-seen mark) behind a small Store interface, so
// that the decisions stay pure functions of the state and the event's
// clock, and the state can live in memory (one node) or in a shared store
// (several replicas).
package state

import (
	"context"
	"time"
)

// KeyState is the decision state of one key.
type KeyState struct {
	Start      time.Time     `json:"start,omitzero"` // start of the throttle window
	End        time.Time     `json:"end,omitzero"`   // end of the throttle window
	Window     time.Duration `json:"window,omitempty"`
	Suppressed int           `json:"suppressed,omitempty"` // events held back in the window
	First      time.Time     `json:"first,omitzero"`       // first held-back event
	Last       time.Time     `json:"last,omitzero"`        // last held-back event
	Hits       []time.Time   `json:"hits,omitempty"`       // threshold: latest matches, oldest first
	Seen       bool          `json:"seen,omitempty"`       // first_seen
	// Who is, for each of Hits, a hash of the group or sender it came from
	// (0: not known), and Names the names of some of those hashes: at most
	// MaxNames, so a threshold page can list the top groups or senders it
	// counted without the state keeping a name per hit.
	Who   []uint32 `json:"who,omitempty"`
	Names []string `json:"names,omitempty"`
}

// MaxNames bounds KeyState.Names; MaxNameBytes each name.
const (
	MaxNames     = 16
	MaxNameBytes = 64
)

// Entry is a key's state and until when it is worth keeping, on the
// decision clock (the events' receive times). Decisions treat an entry
// kept until at or before the event's time as absent, so a store may drop
// it any time after; a store may also drop entries earlier to stay within
// its bounds, and says so in a metric.
type Entry struct {
	State     KeyState
	KeepUntil time.Time
}

// Live reports whether e still applies to a decision at now.
func (e Entry) Live(now time.Time) bool { return now.Before(e.KeepUntil) }

// Store keeps one Entry per key. Implementations are safe for concurrent
// use, return copies (a caller may change what Get returned without
// changing the store) and take ctx and return errors because a shared
// store is a network call away.
type Store interface {
	// Get returns key's entry, or ok false when the store holds none.
	Get(ctx context.Context, key string) (e Entry, ok bool, err error)
	// Put replaces key's entry.
	Put(ctx context.Context, key string, e Entry) error
	// Delete drops key's entry; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}
