package notify

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/imalert/imalert/callback"
)

// Digest summarises the events one rule matched over one interval: one
// message instead of a page per event.
type Digest struct {
	Start time.Time `json:"start"` // first event's receive time
	End   time.Time `json:"end"`   // Start plus the rule's digest interval
	Total int       `json:"total"`
	// Counts by error code ("-" for events without one) and canonical
	// group type ("-" for none).
	ByCode      map[string]int `json:"by_code"`
	ByGroupType map[string]int `json:"by_group_type"`
	// Groups and Senders count events by GroupId and From_Account. They
	// hold at most MaxDigestKeys entries; events of further groups or
	// senders are counted in OtherGroups and OtherSenders.
	Groups       map[string]int `json:"groups"`
	Senders      map[string]int `json:"senders"`
	OtherGroups  int            `json:"other_groups,omitempty"`
	OtherSenders int            `json:"other_senders,omitempty"`
}

// MaxDigestKeys bounds the groups and the senders a digest counts by name.
const MaxDigestKeys = 1000

// NewDigest starts a digest at start lasting interval.
func NewDigest(start time.Time, interval time.Duration) *Digest {
	return &Digest{
		Start: start, End: start.Add(interval),
		ByCode: map[string]int{}, ByGroupType: map[string]int{},
		Groups: map[string]int{}, Senders: map[string]int{},
	}
}

// Add counts ev.
func (d *Digest) Add(ev *callback.Event) {
	d.Total++
	code := "-"
	if ev.Present.Has(callback.FieldErrorCode) {
		code = strconv.FormatInt(ev.ErrorCode, 10)
	}
	d.ByCode[code]++
	gt := "-"
	if ev.GroupType != "" {
		gt = callback.CanonicalGroupType(ev.GroupType)
	}
	d.ByGroupType[gt]++
	if ev.GroupID != "" {
		countBounded(d.Groups, ev.GroupID, 1, &d.OtherGroups)
	}
	if ev.FromAccount != "" {
		countBounded(d.Senders, ev.FromAccount, 1, &d.OtherSenders)
	}
}

// Merge adds o's counts to d and widens d's interval to cover o's.
func (d *Digest) Merge(o *Digest) {
	if o.Start.Before(d.Start) {
		d.Start = o.Start
	}
	if o.End.After(d.End) {
		d.End = o.End
	}
	d.Total += o.Total
	for k, n := range o.ByCode {
		d.ByCode[k] += n
	}
	for k, n := range o.ByGroupType {
		d.ByGroupType[k] += n
	}
	for k, n := range o.Groups {
		countBounded(d.Groups, k, n, &d.OtherGroups)
	}
	for k, n := range o.Senders {
		countBounded(d.Senders, k, n, &d.OtherSenders)
	}
	d.OtherGroups += o.OtherGroups
	d.OtherSenders += o.OtherSenders
}

func countBounded(m map[string]int, k string, n int, other *int) {
	if _, ok := m[k]; ok || len(m) < MaxDigestKeys {
		m[k] += n
		return
	}
	*other += n
}

// Count is one row of a digest table.
type Count struct {
	Name  string
	Count int
}

// Top returns the n largest counts of m, largest first, ties by name.
func Top(m map[string]int, n int) []Count {
	out := make([]Count, 0, len(m))
	for k, c := range m {
		out = append(out, Count{k, c})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// Clone returns a deep copy of d.
func (d *Digest) Clone() *Digest {
	c := *d
	c.ByCode, c.ByGroupType = maps.Clone(d.ByCode), maps.Clone(d.ByGroupType)
	c.Groups, c.Senders = maps.Clone(d.Groups), maps.Clone(d.Senders)
	return &c
}

// Init makes a decoded digest's maps usable.
func (d *Digest) Init() {
	for _, m := range []*map[string]int{&d.ByCode, &d.ByGroupType, &d.Groups, &d.Senders} {
		if *m == nil {
			*m = map[string]int{}
		}
	}
}
