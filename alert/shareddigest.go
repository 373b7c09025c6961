package alert

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/imalert/imalert/alert/state"
)

// With a shared state store, a rule's open digest lives in it too, so
// that every replica counts into the same digest and exactly one sends it:
// a batch reads the open digests with its other state, and claims what it
// changed (a digest counted into, opened or closed) with its decisions. Of
// replicas that close a digest at the same time, one claim wins; the
// others decide again, find it closed, and send nothing. p.digests then
// only says when to look for digests to close.

// digestKey is where rule's open digest lives in a shared store.
func digestKey(rule string) string { return "digest\x00" + rule }

// sharedDigest is a rule's open digest as a batch read it.
type sharedDigest struct {
	data []byte
	v    state.Version
	st   *digestState // nil: none open
}

// loadDigests reads from the shared store the open digest of every rule
// that has one or may open one: the current rules with a digest, and
// those this replica knows open.
func (p *Pipeline) loadDigests(ctx context.Context, b *batch) error {
	if b.states.shared == nil {
		return nil
	}
	names := map[string]bool{}
	for _, r := range p.rules.Load().Rules() {
		if r.Digest > 0 {
			names[r.Name] = true
		}
	}
	for rule := range p.digests {
		names[rule] = true
	}
	b.shared = make(map[string]sharedDigest, len(names))
	for rule := range names {
		data, v, err := b.states.shared.LoadRaw(ctx, digestKey(rule))
		if err != nil {
			return fmt.Errorf("alert: digest %q: %w", rule, err)
		}
		d := sharedDigest{data: data, v: v}
		var st digestState
		if data != nil && json.Unmarshal(data, &st) == nil && st.Digest != nil {
			st.Digest.Init()
			d.st = &st
		}
		b.shared[rule] = d
		if d.st != nil {
			p.digests[rule] = d.st
		} else {
			delete(p.digests, rule)
		}
	}
	return nil
}

// digestChanges are the digests the batch changed, as a claim.
func (b *batch) digestChanges() []state.Change {
	var cs []state.Change
	for rule, st := range b.digests {
		d := b.shared[rule]
		c := state.Change{Key: digestKey(rule), Read: d.v, OldRaw: d.data, Raw: []byte{}}
		if st != nil {
			c.Raw, _ = json.Marshal(st) // plain data: cannot fail
		}
		cs = append(cs, c)
	}
	return cs
}
