package silence

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// Tally is what one processing batch adds to the silences. The pipeline
// fills it while deciding, writes Set.Stage's updates with the batch, and
// calls Set.Apply once the batch is committed.
type Tally struct {
	delta map[string]*Stats
}

// Hold counts ev, which the rules matched, as held by each silence in ids.
func (t *Tally) Hold(ids []string, ev *callback.Event, matched []*rules.Rule) {
	if t.delta == nil {
		t.delta = map[string]*Stats{}
	}
	for _, id := range ids {
		d := t.delta[id]
		if d == nil {
			d = &Stats{}
			t.delta[id] = d
		}
		d.add(ev, matched)
	}
}

// Empty reports whether t holds nothing.
func (t *Tally) Empty() bool { return len(t.delta) == 0 }

func (st *Stats) add(ev *callback.Event, matched []*rules.Rule) {
	st.Events++
	if st.First.IsZero() || ev.ReceivedAt.Before(st.First) {
		st.First = ev.ReceivedAt
	}
	if ev.ReceivedAt.After(st.Last) {
		st.Last = ev.ReceivedAt
	}
	if ev.GroupID != "" {
		var ok bool
		if st.Groups, ok = addName(st.Groups, ev.GroupID, MaxGroups); !ok {
			st.GroupsMore = true
		}
	}
	for _, r := range matched {
		st.Rules, _ = addName(st.Rules, r.Name, maxNames)
		for _, recv := range r.Receivers {
			st.Receivers, _ = addName(st.Receivers, recv, maxNames)
		}
	}
}

// merge returns st with d added.
func (st Stats) merge(d *Stats) Stats {
	st.Events += d.Events
	if st.First.IsZero() || (!d.First.IsZero() && d.First.Before(st.First)) {
		st.First = d.First
	}
	if d.Last.After(st.Last) {
		st.Last = d.Last
	}
	st.Groups, st.GroupsMore = mergeNames(st.Groups, d.Groups, MaxGroups), st.GroupsMore || d.GroupsMore
	if len(st.Groups) == MaxGroups && len(d.Groups) > 0 {
		for _, g := range d.Groups {
			if _, ok := slices.BinarySearch(st.Groups, g); !ok {
				st.GroupsMore = true
				break
			}
		}
	}
	st.Rules = mergeNames(st.Rules, d.Rules, maxNames)
	st.Receivers = mergeNames(st.Receivers, d.Receivers, maxNames)
	return st
}

func mergeNames(a, b []string, limit int) []string {
	out := slices.Clone(a)
	for _, n := range b {
		out, _ = addName(out, n, limit)
	}
	return out
}

// Ended is a silence whose end is reported in a batch, and the receivers
// of the rules whose matches it held.
type Ended struct {
	notify.SilenceEnded
	Receivers []string
}

// Staged is what a batch changes in the silences, kept apart until the
// batch is committed.
type Staged struct {
	// Updates go into the store batch.
	Updates []store.SilenceUpdate
	// Ended are the silences whose end the batch reports; the pipeline
	// writes their pages.
	Ended []Ended

	stats   map[string]Stats
	counts  map[string]int
	noticed []string
	won     []string          // end claims to confirm once committed
	delta   map[string]*Stats // the batch's own, for the shared counts
}

// Stage adds t to the silences' counts and finds the silences whose end is
// due at now (wall clock, like digests), for one batch.
func (s *Set) Stage(t *Tally, now time.Time) *Staged {
	sg := &Staged{stats: map[string]Stats{}, counts: map[string]int{}, delta: t.delta}
	due := s.stage(sg, t, now)
	if s.sh == nil {
		for _, e := range due {
			st, ok := sg.stats[e.row.ID]
			if !ok {
				st = e.stats
			}
			sg.noticed = append(sg.noticed, e.row.ID)
			if st.Events > 0 { // held nothing: nothing to report, and no one to tell
				sg.Ended = append(sg.Ended, Ended{SilenceEnded: e.ended(st), Receivers: st.Receivers})
			}
		}
	} else {
		sg.noticed, sg.won, sg.Ended = s.claimEnds(due, sg.stats)
	}
	for _, id := range sg.noticed {
		if i := slices.IndexFunc(sg.Updates, func(u store.SilenceUpdate) bool { return u.ID == id }); i >= 0 {
			sg.Updates[i].Noticed = true
		} else {
			sg.Updates = append(sg.Updates, store.SilenceUpdate{ID: id, Noticed: true})
		}
	}
	return sg
}

// stage adds t's counts to sg and returns the silences whose end is due.
func (s *Set) stage(sg *Staged, t *Tally, now time.Time) (due []*entry) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range slices.Sorted(maps.Keys(t.delta)) {
		e, ok := s.byID[id]
		if !ok {
			continue
		}
		d := t.delta[id]
		next := e.stats.merge(d)
		sg.stats[id] = next
		sg.counts[id] = d.Events
		data, _ := json.Marshal(next) // plain data: cannot fail
		sg.Updates = append(sg.Updates, store.SilenceUpdate{ID: id, Stats: data})
	}
	for _, e := range s.list {
		if !e.row.Noticed && !now.Before(e.row.EndsAt.Add(endGrace)) {
			due = append(due, e)
		}
	}
	return due
}

func (e *entry) ended(st Stats) notify.SilenceEnded {
	se := e.endedTotals(totalsOf(st))
	se.GroupsMore = st.GroupsMore
	return se
}

// endedTotals is the end notice of e with t held.
func (e *entry) endedTotals(t Totals) notify.SilenceEnded {
	return notify.SilenceEnded{
		ID: e.row.ID, Author: e.spec.Author, Comment: e.spec.Comment,
		StartsAt: e.row.StartsAt, EndsAt: e.row.EndsAt, Expired: e.row.EndsAt.Before(e.spec.PlannedEnd),
		Events: t.Events, Groups: t.Groups, Rules: slices.Clone(t.Rules),
		First: t.First, Last: t.Last,
		StillHappening: !t.Last.IsZero() && e.row.EndsAt.Sub(t.Last) <= notify.StillHappeningWindow,
	}
}

// Apply makes sg, now committed, the silences' state.
func (s *Set) Apply(sg *Staged) {
	s.mu.Lock()
	for id, st := range sg.stats {
		if e, ok := s.byID[id]; ok {
			e.stats = st
		}
	}
	for _, id := range sg.noticed {
		if e, ok := s.byID[id]; ok {
			e.row.Noticed = true
		}
	}
	s.mu.Unlock()
	for id, n := range sg.counts {
		s.metrics.silenced.WithLabelValues(id).Add(float64(n))
	}
	s.metrics.ended.Add(float64(len(sg.Ended)))
	if s.sh != nil && len(sg.delta) > 0 {
		s.share(sg.delta)
	}
	if s.sh != nil {
		s.confirmEnds(sg.won)
	}
}

// Rules lists the names of ended silences' rules for a page's rule column.
func (e Ended) RuleList() string { return strings.Join(e.Rules, ",") }

type metrics struct {
	silenced *prometheus.CounterVec
	ended    prometheus.Counter
}

func newMetrics(r prometheus.Registerer, s *Set) *metrics {
	m := &metrics{
		silenced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_silenced_events_total", Help: "Events held by a silence, by silence ID.",
		}, []string{"silence"}),
		ended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_silence_ended_total", Help: "Silences whose end was reported to the receivers of the rules involved.",
		}),
	}
	if r != nil {
		active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "imalert_silences_active", Help: "Silences active now.",
		}, func() float64 {
			n := 0
			for _, v := range s.List() {
				if v.State == Active {
					n++
				}
			}
			return float64(n)
		})
		r.MustRegister(m.silenced, m.ended, active)
	}
	return m
}
