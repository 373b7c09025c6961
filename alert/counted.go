package alert

import (
	"cmp"
	"slices"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
)

// MaxCounted is how many groups or senders a threshold page names; the
// rest are "N more".
const MaxCounted = 5

// countedBy is the field whose values a threshold page of r lists: the
// group, unless the rule is keyed by group (then every hit is one group),
// and then the sender. It is empty when the key holds both.
func countedBy(r *rules.Rule) string {
	if r.Threshold.Count == 0 {
		return ""
	}
	for _, f := range []string{callback.NameGroupID, callback.NameFromAccount} {
		if !slices.Contains(r.GroupBy, f) {
			return f
		}
	}
	return ""
}

// whoHash is the hash a state keeps per hit for name, which is cut to
// state.MaxNameBytes first (so a name and its hash agree). 0 means not
// known, so no name hashes to it.
func whoHash(name string) uint32 {
	// FNV-1a, inline: no allocation per name and decision.
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	if h == 0 {
		return 1
	}
	return h
}

// cutName cuts name to state.MaxNameBytes without splitting a rune.
func cutName(name string) string {
	if len(name) <= state.MaxNameBytes {
		return name
	}
	i := state.MaxNameBytes
	for i > 0 && !utf8RuneStart(name[i]) {
		i--
	}
	return name[:i]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// countHit records who for the hit just added to st.Hits (prev hits were
// there before, the oldest may have been dropped): Who stays parallel to
// Hits, and Names keeps who's name while there is room, after dropping
// names no hit refers to any more. It returns new slices, leaving st's
// old ones alone.
func countHit(st state.KeyState, prev int, who string) ([]uint32, []string) {
	// Who of states written before it existed, or of hits dropped, is
	// unknown (0), aligned to the end of the hits kept.
	old := st.Who
	if len(old) > prev {
		old = old[len(old)-prev:]
	}
	keep := len(st.Hits) - 1
	out := make([]uint32, keep, keep+1)
	copy(out[max(keep-len(old), 0):], old[max(len(old)-keep, 0):])
	name := cutName(who)
	h := whoHash(name)
	out = append(out, h)

	names := make([]string, 0, min(len(st.Names)+1, state.MaxNames))
	known := false
	least, leastN := -1, 0 // the kept name with the fewest hits
	for _, n := range st.Names {
		nh := whoHash(n)
		known = known || nh == h
		c := hitsOf(out, nh)
		if c == 0 || len(names) == state.MaxNames {
			continue
		}
		if least < 0 || c < leastN {
			least, leastN = len(names), c
		}
		names = append(names, n)
	}
	switch {
	case known:
	case len(names) < state.MaxNames:
		names = append(names, name)
	case hitsOf(out, h) > leastN:
		// A name that now has more hits than the least of those kept
		// takes its place, so the top ones stay named.
		names[least] = name
	}
	return out, names
}

// hitsOf counts h in who.
func hitsOf(who []uint32, h uint32) int {
	n := 0
	for _, w := range who {
		if w == h {
			n++
		}
	}
	return n
}

// counted tallies the hits of st less than w before now by who they came
// from: the MaxCounted most frequent with a name, and how many others.
func counted(st state.KeyState, now time.Time, w time.Duration) (top []notify.Count, more int) {
	if len(st.Who) == 0 {
		return nil, 0
	}
	off := len(st.Hits) - len(st.Who)
	if off < 0 {
		return nil, 0
	}
	n := map[uint32]int{}
	for i, h := range st.Who {
		if h != 0 && now.Sub(st.Hits[off+i]) < w {
			n[h]++
		}
	}
	for _, name := range st.Names {
		if c, ok := n[whoHash(name)]; ok {
			top = append(top, notify.Count{Name: name, Count: c})
		}
	}
	slices.SortFunc(top, func(a, b notify.Count) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	top = top[:min(len(top), MaxCounted)]
	return top, len(n) - len(top)
}
