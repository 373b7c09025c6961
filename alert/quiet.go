package alert

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// Quiet summaries. When a throttle window that held events back ends with
// no new event, a summary page goes out at the window's end ("2 more
// events, the last at 20:56:05; quiet since") and the key's held-back count
// is cleared, so the next event pages with its own count: nothing is
// counted twice. Which windows end when is kept in an index, bounded by
// throttle.max_keys and persisted in the store with the batch that held
// the window's first event back; the decision state itself is only read
// and written through state.Store.

// dueSummary is a throttle window that held events back, by when it ends.
type dueSummary struct {
	Key      string    `json:"-"` // the decision-state key
	Due      time.Time `json:"-"`
	StateKey string    `json:"rule"` // the rule's StateKey
	GroupKey string    `json:"group_key"`
	Severity string    `json:"severity"`
}

// quietIndex is the due summaries: a map by key, and a heap by due time
// whose stale entries (deleted or moved keys) are skipped when popped.
type quietIndex struct {
	byKey map[string]dueSummary
	order dueHeap
	max   int
}

type dueHeap []dueSummary

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].Due.Before(h[j].Due) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueSummary)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (q *quietIndex) put(d dueSummary) {
	if q.byKey == nil {
		q.byKey = map[string]dueSummary{}
	}
	q.byKey[d.Key] = d
	heap.Push(&q.order, d)
}

// current reports whether d is still the key's entry.
func (q *quietIndex) current(d dueSummary) bool {
	c, ok := q.byKey[d.Key]
	return ok && c.Due.Equal(d.Due)
}

// next returns when the earliest summary is due.
func (q *quietIndex) next() (time.Time, bool) {
	for q.order.Len() > 0 {
		if d := q.order[0]; q.current(d) {
			return d.Due, true
		}
		heap.Pop(&q.order)
	}
	return time.Time{}, false
}

// quietBatch is what a batch changes in the index.
type quietBatch struct {
	added  map[string]dueSummary
	done   []string     // keys whose summary was sent or dropped
	popped []dueSummary // taken off the heap; pushed back if the batch fails
}

// noteThrottled indexes the window of o when o held its first event back
// and its rule sends quiet summaries.
func (p *Pipeline) noteThrottled(b *batch, ev *callback.Event, o Outcome) {
	d := o.Decision
	if d.Reason != notify.ReasonThrottled || d.Suppressed != 1 || !o.Rule.QuietSummary {
		return
	}
	if len(p.quiet.byKey)+len(b.quiet.added) >= p.quiet.max {
		b.after = append(b.after, p.metrics.summariesDropped.Inc)
		return // the count still rides on the key's next page
	}
	if b.quiet.added == nil {
		b.quiet.added = map[string]dueSummary{}
	}
	key := stateKey(o.Rule, o.Key)
	b.quiet.added[key] = dueSummary{Key: key, Due: d.Until, StateKey: o.Rule.StateKey, GroupKey: o.Key, Severity: severity(ev, o.Rule, p.catalogueOf())}
}

// closeQuiet sends the summaries due at now, when the batch read every
// journal entry there was (a backlog may still hold events of the window).
func (p *Pipeline) closeQuiet(ctx context.Context, b *batch, now time.Time, drained bool) error {
	var due []dueSummary
	for _, d := range b.quiet.added {
		if !now.Before(d.Due.Add(digestGrace)) {
			due = append(due, d)
		}
	}
	for drained {
		at, ok := p.quiet.next()
		if !ok || now.Before(at.Add(digestGrace)) {
			break
		}
		d := heap.Pop(&p.quiet.order).(dueSummary)
		b.quiet.popped = append(b.quiet.popped, d)
		if _, readded := b.quiet.added[d.Key]; !readded {
			due = append(due, d)
		}
	}
	if len(due) == 0 {
		return nil
	}
	byState := map[string]*rules.Rule{}
	for _, r := range p.rules.Load().Rules() {
		byState[r.StateKey] = r
	}
	for _, d := range due {
		b.quiet.done = append(b.quiet.done, d.Key)
		delete(b.quiet.added, d.Key)
		e, err := b.states.get(ctx, d.Key)
		if err != nil {
			return fmt.Errorf("alert: decision state: %w", err)
		}
		st := e.State
		r := byState[d.StateKey]
		if r == nil || !r.QuietSummary || st.Suppressed == 0 || !st.End.Equal(d.Due) || !e.Live(d.Due) {
			continue // the rule changed, or an event after the window paged with the count
		}
		p.quietSummary(b, r, d, st)
		st.Suppressed = 0 // reported; Last stays, for exponential backoff
		b.states.pending[d.Key] = state.Entry{State: st, KeepUntil: keepUntil(st, st.End, r)}
	}
	return nil
}

// quietSummary adds the summary of the window st to b, one page per
// receiver of r.
func (p *Pipeline) quietSummary(b *batch, r *rules.Rule, d dueSummary, st state.KeyState) {
	rule := r.Name
	b.after = append(b.after, func() { p.metrics.summaries.WithLabelValues(rule).Inc() })
	for _, recv := range r.Receivers {
		n := &notify.Notification{
			ID: notify.NewID(), Receiver: recv, Rule: r.Name, RuleFile: r.File, RuleLine: r.Line,
			Severity: d.Severity, GroupKey: d.GroupKey, Quiet: true, CreatedAt: st.End,
			Throttle: notify.Throttled{Window: st.Window, Suppressed: st.Suppressed, Since: st.Start, First: st.First, Last: st.Last},
			Fallback: r.Fallback, FallbackAfter: r.FallbackAfter,
		}
		b.Notifications = append(b.Notifications, delivery.Encode(n))
		b.after = append(b.after, func() { p.metrics.notifications.WithLabelValues(rule, recv).Inc() })
	}
}

// stageQuiet writes the batch's index changes into its store batch.
func (b *batch) stageQuiet() {
	for _, key := range b.quiet.done {
		b.Summaries = append(b.Summaries, store.Summary{Key: key, Delete: true})
	}
	for _, d := range b.quiet.added {
		data, _ := json.Marshal(d) // plain data: cannot fail
		b.Summaries = append(b.Summaries, store.Summary{Key: d.Key, Due: d.Due, Data: data})
	}
}

// applyQuiet makes the committed batch's index changes current; after a
// failed commit (ok false) it puts back what it took off the heap.
func (p *Pipeline) applyQuiet(b *batch, ok bool) {
	if !ok {
		for _, d := range b.quiet.popped {
			heap.Push(&p.quiet.order, d)
		}
		return
	}
	for _, key := range b.quiet.done {
		delete(p.quiet.byKey, key)
	}
	for _, d := range b.quiet.added {
		p.quiet.put(d)
	}
}

// restoreQuiet loads the due summaries.
func (p *Pipeline) restoreQuiet(ctx context.Context) error {
	ss, err := p.store.Summaries(ctx)
	if err != nil {
		return err
	}
	for _, s := range ss {
		var d dueSummary
		if err := json.Unmarshal(s.Data, &d); err != nil {
			p.logger.Warn("dropping unreadable due summary", "err", err)
			continue
		}
		d.Key, d.Due = s.Key, s.Due
		p.quiet.put(d)
	}
	return nil
}

// nextQuiet bounds wait by when the next summary is due.
func (p *Pipeline) nextQuiet(wait time.Duration) time.Duration {
	if at, ok := p.quiet.next(); ok {
		return max(min(wait, at.Add(digestGrace).Sub(p.now())), 0)
	}
	return wait
}

func (p *Pipeline) catalogueOf() *callback.Catalogue {
	if cat := p.rules.Load().Catalogue(); cat != nil {
		return cat
	}
	return p.catalogue
}

// severity is the severity of r's page for ev: the rule's, else the error
// code's, else warning.
func severity(ev *callback.Event, r *rules.Rule, cat *callback.Catalogue) string {
	if r.Severity != "" {
		return r.Severity
	}
	if ev.Present.Has(callback.FieldErrorCode) {
		if info, ok := cat.Lookup(ev.ErrorCode); ok && info.Severity != "" {
			return info.Severity
		}
	}
	return callback.SeverityWarning
}
