package trace

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/imalert/imalert/callback"
)

// Stats counts processed events for the overview: per minute by error
// code over the last day, and the busiest groups and senders over the
// last one to two hours. Memory is bounded whatever the payloads: a few
// codes per minute (the rest counted as "other"), and a bounded number of
// group and sender names (the least counted evicted). Counts start when
// the daemon does.
type Stats struct {
	mu      sync.Mutex
	minutes [statMinutes]minute
	groups  [2]*topCounter // this hour, the previous one
	senders [2]*topCounter
	hour    int64
}

const (
	statMinutes   = 24 * 60
	codesPerMin   = 8
	maxNames      = 256
	CodeOther     = -1 // the code under which codes beyond codesPerMin are counted
	CodeNone      = -2 // events without an error code
	maxNameLength = 200
)

type minute struct {
	at     int64 // Unix minute
	codes  [codesPerMin]int64
	counts [codesPerMin + 1]int // the last one: other
	n      int                  // codes in use
}

// NewStats returns empty counters.
func NewStats() *Stats {
	s := &Stats{}
	for i := range s.groups {
		s.groups[i], s.senders[i] = newTopCounter(), newTopCounter()
	}
	return s
}

// Observe counts ev at its receive time.
func (s *Stats) Observe(ev *callback.Event) {
	code := int64(CodeNone)
	if ev.Present.Has(callback.FieldErrorCode) {
		code = ev.ErrorCode
	}
	at := ev.ReceivedAt.Unix() / 60
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &s.minutes[at%statMinutes]
	if m.at != at {
		if at < m.at {
			return // older than a day
		}
		*m = minute{at: at}
	}
	m.add(code)
	hour := at / 60
	if hour > s.hour {
		if hour == s.hour+1 {
			s.groups[1], s.senders[1] = s.groups[0], s.senders[0]
		} else {
			s.groups[1], s.senders[1] = newTopCounter(), newTopCounter()
		}
		s.groups[0], s.senders[0] = newTopCounter(), newTopCounter()
		s.hour = hour
	}
	if hour == s.hour {
		s.groups[0].add(ev.GroupID)
		s.senders[0].add(ev.FromAccount)
	}
}

func (m *minute) add(code int64) {
	for i := range m.n {
		if m.codes[i] == code {
			m.counts[i]++
			return
		}
	}
	if m.n < codesPerMin {
		m.codes[m.n] = code
		m.counts[m.n] = 1
		m.n++
		return
	}
	m.counts[codesPerMin]++
}

// topCounter keeps the maxNames most counted names in a min-heap indexed
// by name, so a name not yet counted costs O(log maxNames), not a scan:
// in a storm most senders are new. Each entry knows its place in the
// heap, so moving one is no map write.
type topCounter struct {
	idx   map[string]*counted
	items []*counted
}

type counted struct {
	Name  string
	Count int
	at    int // position in items
}

func newTopCounter() *topCounter {
	return &topCounter{idx: make(map[string]*counted, maxNames), items: make([]*counted, 0, maxNames)}
}

// add counts name, evicting the least counted name when full (its count
// is carried over, as in the space-saving algorithm, so a heavy newcomer
// is not undercounted forever).
func (c *topCounter) add(name string) {
	if name == "" {
		return
	}
	if len(name) > maxNameLength {
		name = name[:maxNameLength]
	}
	if e, ok := c.idx[name]; ok {
		e.Count++
		c.down(e.at)
		return
	}
	name = strings.Clone(name) // not the callback body it points into
	if len(c.items) < maxNames {
		e := &counted{Name: name, Count: 1, at: len(c.items)}
		c.items = append(c.items, e)
		c.idx[name] = e
		c.up(e.at)
		return
	}
	low := c.items[0]
	delete(c.idx, low.Name)
	low.Name = name
	low.Count++
	c.idx[name] = low
	c.down(0)
}

func (c *topCounter) less(i, j int) bool { return c.items[i].Count < c.items[j].Count }

func (c *topCounter) swap(i, j int) {
	c.items[i], c.items[j] = c.items[j], c.items[i]
	c.items[i].at, c.items[j].at = i, j
}

func (c *topCounter) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !c.less(i, p) {
			return
		}
		c.swap(i, p)
		i = p
	}
}

func (c *topCounter) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(c.items) {
			return
		}
		m := l
		if r := l + 1; r < len(c.items) && c.less(r, l) {
			m = r
		}
		if !c.less(m, i) {
			return
		}
		c.swap(i, m)
		i = m
	}
}

// Series is the events per minute of one error code.
type Series struct {
	Code   int64 // CodeOther, CodeNone or an error code
	Counts []int // one per minute, oldest first
	Total  int
}

// PerMinute returns the events per minute over the minutes minutes
// ending with the one holding now, by error code, the largest first; at
// most top codes, the rest as CodeOther.
func (s *Stats) PerMinute(now time.Time, minutes, top int) []Series {
	minutes = min(max(minutes, 1), statMinutes)
	end := now.Unix() / 60
	by := map[int64][]int{}
	s.mu.Lock()
	for i := range minutes {
		at := end - int64(minutes-1-i)
		m := &s.minutes[((at%statMinutes)+statMinutes)%statMinutes]
		if m.at != at {
			continue
		}
		for j := range m.n {
			add(by, m.codes[j], i, m.counts[j], minutes)
		}
		if m.counts[codesPerMin] > 0 {
			add(by, CodeOther, i, m.counts[codesPerMin], minutes)
		}
	}
	s.mu.Unlock()
	out := make([]Series, 0, len(by))
	for code, counts := range by {
		sr := Series{Code: code, Counts: counts}
		for _, n := range counts {
			sr.Total += n
		}
		out = append(out, sr)
	}
	slices.SortFunc(out, func(a, b Series) int {
		if c := cmp.Compare(b.Total, a.Total); c != 0 {
			return c
		}
		return cmp.Compare(a.Code, b.Code)
	})
	if len(out) > top {
		other := Series{Code: CodeOther, Counts: make([]int, minutes)}
		for _, sr := range out[top-1:] {
			for i, n := range sr.Counts {
				other.Counts[i] += n
			}
			other.Total += sr.Total
		}
		out = append(out[:top-1], other)
	}
	return out
}

func add(by map[int64][]int, code int64, i, n, minutes int) {
	c := by[code]
	if c == nil {
		c = make([]int, minutes)
		by[code] = c
	}
	c[i] += n
}

// Count is a name and how many events it had.
type Count struct {
	Name  string
	Count int
}

// Top returns the n busiest groups and senders of the current and the
// previous hour.
func (s *Stats) Top(n int) (groups, senders []Count) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return top(s.groups, n), top(s.senders, n)
}

func top(cs [2]*topCounter, n int) []Count {
	sum := map[string]int{}
	for _, c := range cs {
		for _, it := range c.items {
			sum[it.Name] += it.Count
		}
	}
	out := make([]Count, 0, len(sum))
	for k, v := range sum {
		out = append(out, Count{k, v})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out[:min(n, len(out))]
}
