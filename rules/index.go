package rules

import (
	"cmp"
	"math"
	"slices"

	"github.com/imalert/imalert/callback"
)

// codeRange is an inclusive range of error codes.
type codeRange struct{ lo, hi int64 }

// bucket indexes the rules of one callback command (or of any command) by
// error code. Every list is in rule order.
type bucket struct {
	exact  map[int64][]*Rule // rules naming codes, none of them as a range
	segs   []segment         // rules naming ranges, by disjoint code segments
	noCode []*Rule           // rules with no condition on the code
}

// segment is a run of codes [lo, hi] that the same ranged rules cover.
type segment struct {
	lo, hi int64
	rules  []*Rule
}

func newBucket() *bucket { return &bucket{exact: make(map[int64][]*Rule)} }

// add files r under its codes. ranged collects rules with ranges; their
// segments are built once every rule is known.
func (b *bucket) add(r *Rule, ranged *[]*Rule) {
	switch {
	case len(r.ranges) > 0:
		*ranged = append(*ranged, r)
	case len(r.codes) > 0:
		for _, c := range r.codes {
			b.exact[c] = append(b.exact[c], r)
		}
	default:
		b.noCode = append(b.noCode, r)
	}
}

// buildSegments cuts the code line at every range boundary of the ranged
// rules (whose exact codes count as one-code ranges), so that a code falls
// in at most one segment and a rule appears at most once per lookup.
func (b *bucket) buildSegments(ranged []*Rule) {
	if len(ranged) == 0 {
		return
	}
	type edge struct {
		at    int64
		start bool
		r     *Rule
	}
	var edges []edge
	for _, r := range ranged {
		rs := slices.Clone(r.ranges)
		for _, c := range r.codes {
			rs = append(rs, codeRange{c, c})
		}
		for _, cr := range mergeRanges(rs) {
			edges = append(edges, edge{cr.lo, true, r})
			if cr.hi < math.MaxInt64 {
				edges = append(edges, edge{cr.hi + 1, false, r})
			}
		}
	}
	slices.SortStableFunc(edges, func(a, b edge) int { return cmp.Compare(a.at, b.at) })
	active := map[*Rule]bool{}
	for i := 0; i < len(edges); {
		at := edges[i].at
		for ; i < len(edges) && edges[i].at == at; i++ {
			if edges[i].start {
				active[edges[i].r] = true
			} else {
				delete(active, edges[i].r)
			}
		}
		if len(active) == 0 {
			continue
		}
		hi := int64(math.MaxInt64)
		if i < len(edges) {
			hi = edges[i].at - 1
		}
		rules := make([]*Rule, 0, len(active))
		for r := range active {
			rules = append(rules, r)
		}
		slices.SortFunc(rules, func(a, b *Rule) int { return a.order - b.order })
		b.segs = append(b.segs, segment{lo: at, hi: hi, rules: rules})
	}
}

// mergeRanges sorts ranges and joins overlapping or adjacent ones.
func mergeRanges(rs []codeRange) []codeRange {
	slices.SortFunc(rs, func(a, b codeRange) int { return cmp.Compare(a.lo, b.lo) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && (r.lo <= out[n-1].hi || out[n-1].hi < math.MaxInt64 && r.lo == out[n-1].hi+1) {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// maxLists is how many candidate lists Match merges: for the event's
// command and for any command, the exact-code, range and no-code lists.
const maxLists = 6

// collect appends to lists the candidate lists for ev.
func (b *bucket) collect(ev *callback.Event, lists *[maxLists][]*Rule, n int) int {
	if len(b.noCode) > 0 {
		lists[n] = b.noCode
		n++
	}
	if !ev.Present.Has(callback.FieldErrorCode) {
		return n
	}
	if rs := b.exact[ev.ErrorCode]; len(rs) > 0 {
		lists[n] = rs
		n++
	}
	if len(b.segs) > 0 {
		code := ev.ErrorCode
		// Binary search for the first segment ending at or after code.
		i, j := 0, len(b.segs)
		for i < j {
			h := int(uint(i+j) >> 1)
			if b.segs[h].hi < code {
				i = h + 1
			} else {
				j = h
			}
		}
		if i < len(b.segs) && b.segs[i].lo <= code {
			lists[n] = b.segs[i].rules
			n++
		}
	}
	return n
}
