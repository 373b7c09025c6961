package state

import (
	"context"
	"errors"
)

// Version identifies what a Shared store held for a key when it was read:
// every write gives the key a new one. 0 is "no entry".
type Version uint64

// Change is a key's new entry, decided from what a Load returned; LoadAll
// returns what it read as Changes without their Entry.
type Change struct {
	Key   string
	Read  Version // the version decided from (0: absent)
	Old   *Entry  // the entry read; nil: absent
	Entry Entry   // the entry to keep
	// Raw, when not nil, is kept instead of Entry: opaque data (an open
	// digest), as LoadRaw reads it; empty closes it. OldRaw is what was
	// read.
	Raw, OldRaw []byte
}

// ErrConflict reports that another replica wrote a key of a claim since it
// was read; the claim wrote nothing.
var ErrConflict = errors.New("state: changed by another replica since it was read")

// Shared is a Store that several replicas share. A batch of decisions is
// made atomic by optimistic concurrency: the pipeline reads each key with
// Load, decides, and stores every key it changed with one Claim, which
// writes all of them only if none was written since it was read. On
// ErrConflict the batch is decided again on fresh state. The claim comes
// before the batch is committed locally; if that commit fails, Release
// puts back what was read.
type Shared interface {
	Store
	// Load is Get, with the version read.
	Load(ctx context.Context, key string) (e Entry, ok bool, v Version, err error)
	// LoadAll is Load of every key, in one round trip.
	LoadAll(ctx context.Context, keys []string) ([]Change, error)
	// LoadRaw reads the opaque data a claim kept under key (nil: none),
	// with its version.
	LoadRaw(ctx context.Context, key string) ([]byte, Version, error)
	// Claim stores every change, all or none, and returns the versions it
	// wrote, in order; ErrConflict when a key is no longer at its Read
	// version.
	Claim(ctx context.Context, cs []Change) ([]Version, error)
	// Release undoes a claim whose batch was not committed: each key still
	// at the version the claim wrote gets its Old entry back (or none).
	// It returns how many keys had been written over meanwhile and stay
	// as claimed.
	Release(ctx context.Context, cs []Change, wrote []Version) (int, error)
}
