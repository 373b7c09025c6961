package alert

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/mute"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// Waker is told after each commit which receivers got new notifications.
type Waker interface {
	Wake(receiver string)
}

// Pipeline runs journaled callbacks through the rules, the throttle and the
// digests, and writes the resulting notifications to the outbox in the same
// transaction that marks the callbacks processed. Events are processed in
// journal order, in batches, by Run; a restart resumes with the first
// unprocessed entry.
type Pipeline struct {
	logger    *slog.Logger
	metrics   *Metrics
	rules     atomic.Pointer[rules.Engine]
	states    state.Store
	silences  *silence.Set
	catalogue *callback.Catalogue
	store     *store.Store
	out       Waker
	limits    callback.Limits
	batchSize int
	now       func() time.Time
	observer  Observer
	external  string
	timer     *matchTimer
	mute      *mute.Signer

	// Owned by Run.
	cursor  int64
	digests map[string]*digestState
	buf     []*rules.Rule
	quiet   quietIndex

	stopOnce sync.Once
	stop     chan struct{}

	// parsed holds the events Ingest was handed, by journal id, until
	// step takes them: a live event is not parsed a second time. A
	// journal entry without one (replayed after a restart, or past
	// maxParsed) is parsed from the journal.
	parsedMu sync.Mutex
	parsed   map[int64]*callback.Event
}

// maxParsed bounds the parsed events held for processing (about 1 KiB
// each).
const maxParsed = 8192

// PipelineOptions configure a Pipeline.
type PipelineOptions struct {
	Logger    *slog.Logger
	Metrics   *Metrics
	Rules     *rules.Engine
	Catalogue *callback.Catalogue
	// States keeps the decision state (throttle windows, threshold
	// counts, first-seen marks); nil: in memory, bounded by MaxKeys
	// (throttle.max_keys), evictions counted.
	States  state.Store
	MaxKeys int
	Store   *store.Store
	Out     Waker
	// Limits are the parser's limits for re-parsing journal entries.
	Limits callback.Limits
	// BatchSize bounds the journal entries processed per transaction;
	// default 256.
	BatchSize int
	// Now is the clock for digest intervals; nil means time.Now. Throttle
	// decisions use each event's receive time.
	Now func() time.Time
	// Observer, when set, sees every event once it is processed.
	Observer Observer
	// ExternalURL, when set, is imalert's URL as people reach it: pages
	// link to their event's trace in the web UI.
	ExternalURL string
	// Silences, when set, hold the events they match before any decision.
	Silences *silence.Set
	// MatchTiming samples how long each rule takes to match.
	MatchTiming MatchTiming
	// Mute, with ExternalURL, signs each page's one-tap mute link.
	Mute *mute.Signer
}

// NewPipeline returns a pipeline; call Restore, then Run.
func NewPipeline(o PipelineOptions) *Pipeline {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Catalogue == nil {
		o.Catalogue = callback.NewCatalogue()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.States == nil {
		o.States = state.NewMemory(state.MemoryOptions{MaxKeys: o.MaxKeys, OnEvict: o.Metrics.throttleEvictions.Inc})
	}
	p := &Pipeline{
		logger:    o.Logger,
		metrics:   o.Metrics,
		states:    o.States,
		silences:  o.Silences,
		catalogue: o.Catalogue,
		store:     o.Store,
		out:       o.Out,
		limits:    o.Limits,
		batchSize: o.BatchSize,
		now:       o.Now,
		observer:  o.Observer,
		external:  strings.TrimRight(o.ExternalURL, "/"),
		mute:      o.Mute,
		digests:   map[string]*digestState{},
		quiet:     quietIndex{max: cmp.Or(o.MaxKeys, config.DefaultMaxKeys)},
		stop:      make(chan struct{}),
		parsed:    map[int64]*callback.Event{},
		timer:     newMatchTimer(o.MatchTiming, o.Logger, o.Metrics),
	}
	p.rules.Store(o.Rules)
	return p
}

// SetRules swaps in a new rule set for the events processed from now on.
func (p *Pipeline) SetRules(e *rules.Engine) { p.rules.Store(e) }

// Ingest journals the events of one callback request, all or none; it
// returns once they are committed, and only then may the request be
// acknowledged. evs are the events as parsed for the answer, raws[i]'s
// parse being evs[i]: processing takes them rather than parsing the
// journal entries again (the same parser with the same limits, so a live
// event and a replayed one decide alike).
func (p *Pipeline) Ingest(ctx context.Context, raws []callback.Raw, evs []*callback.Event) error {
	ids, err := p.store.AppendAll(ctx, raws)
	if err != nil {
		return fmt.Errorf("alert: ingest: %w", err)
	}
	if len(evs) != len(ids) {
		return nil
	}
	p.parsedMu.Lock()
	defer p.parsedMu.Unlock()
	for i, id := range ids {
		if len(p.parsed) >= maxParsed {
			break
		}
		p.parsed[id] = evs[i]
	}
	return nil
}

// dropParsed forgets the parsed events of entries up to through: those
// Ingest handed over only after step had read their entries.
func (p *Pipeline) dropParsed(through int64) {
	p.parsedMu.Lock()
	defer p.parsedMu.Unlock()
	for id := range p.parsed {
		if id <= through {
			delete(p.parsed, id)
		}
	}
}

// holds reports whether the event of entry id is held as parsed, and
// when it was received: the journal need not read its query and body
// back.
func (p *Pipeline) holds(id int64) (time.Time, bool) {
	p.parsedMu.Lock()
	defer p.parsedMu.Unlock()
	ev, ok := p.parsed[id]
	if !ok {
		return time.Time{}, false
	}
	return ev.ReceivedAt, true
}

// parse returns the event of journal entry e: the one Ingest was handed,
// or e parsed again.
func (p *Pipeline) parse(e store.Event) (*callback.Event, error) {
	p.parsedMu.Lock()
	ev, ok := p.parsed[e.ID]
	delete(p.parsed, e.ID)
	p.parsedMu.Unlock()
	if ok {
		ev.ReceivedAt = e.Raw.ReceivedAt // as stored, as a replay reads it
		return ev, nil
	}
	return e.Parse(p.limits)
}

// Restore loads the decision state (throttle windows, threshold counts,
// first-seen marks) and the open digests from the store. Call it once,
// before Run.
func (p *Pipeline) Restore(ctx context.Context) error {
	ws, err := p.store.Windows(ctx)
	if err != nil {
		return err
	}
	// Decisions run on each event's receive time: state is worth restoring
	// if it still applies to the oldest event left to process, however
	// long ago that arrived.
	now := p.now()
	if evs, err := p.store.Unprocessed(ctx, 0, 1); err == nil && len(evs) > 0 && evs[0].Raw.ReceivedAt.Before(now) {
		now = evs[0].Raw.ReceivedAt
	}
	restored := 0
	if _, shared := p.states.(state.Shared); shared {
		ws = nil // kept by the shared store, newer than this replica's copy
	}
	for _, w := range ws { // most recently kept last: evicted last when over max_keys
		if !now.Before(w.KeepUntil) {
			continue // no event left to process can see it
		}
		st, err := state.Unmarshal(w.Data)
		if err != nil {
			p.logger.Warn("dropping unreadable decision state", "err", err)
			continue
		}
		if err := p.states.Put(ctx, w.Key, state.Entry{State: st, KeepUntil: w.KeepUntil}); err != nil {
			return fmt.Errorf("alert: restore decision state: %w", err)
		}
		restored++
	}
	ds, err := p.store.Digests(ctx)
	if err != nil {
		return err
	}
	if err := p.restoreQuiet(ctx); err != nil {
		return err
	}
	for _, d := range ds {
		var st digestState
		if err := json.Unmarshal(d.Data, &st); err != nil || st.Digest == nil {
			p.logger.Warn("dropping unreadable digest", "rule", d.Rule)
			continue
		}
		st.Digest.Init()
		p.digests[d.Rule] = &st
	}
	n, err := p.store.CountUnprocessed(ctx)
	if err != nil {
		return err
	}
	p.logger.Info("state restored", "decision_states", restored, "digests", len(p.digests), "unprocessed_events", n)
	return nil
}

// Stop makes Run process every journal entry committed so far and return.
func (p *Pipeline) Stop() { p.stopOnce.Do(func() { close(p.stop) }) }

// retryDelay is the pause after a failed store operation.
const retryDelay = time.Second

// digestGrace delays closing a digest a little past its end, so that
// callbacks received just before the end but committed just after it are
// still counted in it.
const digestGrace = time.Second

// Run processes journal entries as they are committed, until Stop has been
// called and every committed entry is processed, or until ctx ends.
func (p *Pipeline) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	lastErr := ""
	for {
		n, err := p.step(ctx)
		if err != nil && ctx.Err() != nil {
			return // cut off at shutdown: the batch is decided again at the next start
		}
		if err != nil {
			if err.Error() != lastErr { // one line per change of error
				lastErr = err.Error()
				p.logger.Error("processing failed; will retry", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-p.stop:
				return
			case <-time.After(retryDelay):
			}
			continue
		}
		lastErr = ""
		if n == p.batchSize {
			continue // more may be waiting
		}
		select {
		case <-p.stop:
			// Server stopped: finish what was acknowledged.
			for {
				n, err := p.step(ctx)
				if err != nil {
					p.logger.Error("processing failed at shutdown; resumes at next start", "err", err)
					return
				}
				if n < p.batchSize {
					return
				}
			}
		default:
		}
		timer.Reset(p.nextQuiet(p.nextSilenceEnd(p.nextDigestDue())))
		select {
		case <-ctx.Done():
			return
		case <-p.stop:
		case <-p.store.Appended():
		case <-p.silencesChanged():
		case <-timer.C:
		}
	}
}

// nextDigestDue returns how long until the first open digest closes.
func (p *Pipeline) nextDigestDue() time.Duration {
	wait := time.Hour
	now := p.now()
	for _, st := range p.digests {
		if d := st.Digest.End.Add(digestGrace).Sub(now); d < wait {
			wait = max(d, 0)
		}
	}
	return wait
}

// step processes one batch of journal entries and closes due digests, in
// one transaction. It returns how many entries it read.
func (p *Pipeline) step(ctx context.Context) (int, error) {
	evs, err := p.store.UnprocessedExcept(ctx, p.cursor, p.batchSize, p.holds)
	if err != nil {
		return 0, err
	}
	now := p.now()
	b, sg, err := p.decideBatch(ctx, evs, now)
	if err != nil || b == nil {
		return 0, err
	}
	for key, e := range b.states.pending {
		b.Windows = append(b.Windows, store.Window{Key: key, KeepUntil: e.KeepUntil, Data: state.Marshal(e.State)})
	}
	for rule, st := range b.digests {
		d := store.Digest{Rule: rule}
		if st != nil {
			d.Data, _ = json.Marshal(st) // plain data: cannot fail
		}
		b.Digests = append(b.Digests, d)
	}
	if err := p.store.Commit(ctx, &b.Batch); err != nil {
		p.applyQuiet(b, false)
		p.release(ctx, b)
		return 0, err // nothing applied: the batch is decided again
	}
	p.apply(ctx, b.states.pending)
	p.applyQuiet(b, true)
	p.applySilences(sg)
	for rule, st := range b.digests {
		if st == nil {
			delete(p.digests, rule)
		} else {
			p.digests[rule] = st
		}
	}
	if b.Through > 0 {
		p.cursor = b.Through
	}
	for _, f := range b.after {
		f()
	}
	p.record(&b.tally)
	woken := map[string]bool{}
	for _, n := range b.Notifications {
		if !woken[n.Receiver] && p.out != nil {
			woken[n.Receiver] = true
			p.out.Wake(n.Receiver)
		}
	}
	return len(evs), nil
}

// maxClaims bounds the times a batch is decided again because other
// replicas changed its keys first; past it, the step fails and is retried
// after retryDelay.
const maxClaims = 16

// decideBatch decides evs at now into a batch, nil when there is nothing
// to commit, with the silences it staged. With a shared store, the batch's
// decisions are claimed in it before they are committed: if another
// replica changed a key the batch read, the whole batch is decided again
// on fresh state, so that only one replica opens a window (or sends a
// digest or a quiet summary) and every held-back event is counted once.
// It keeps the claim, for a release should the commit fail.
func (p *Pipeline) decideBatch(ctx context.Context, evs []store.Event, now time.Time) (*batch, *silence.Staged, error) {
	// Each event is taken (or parsed) once: a batch decided again reads
	// the same events, and the journal held back the query and body of
	// those handed over as parsed.
	parsed := make([]*callback.Event, len(evs))
	for i, e := range evs {
		ev, err := p.parse(e)
		if err != nil {
			// Accepted once, refused by today's parser: processed, counted.
			p.logger.Warn("journal entry no longer parses", "event_id", e.ID, "request_id", callback.RequestID(e.Raw.ReceivedAt), "err", err)
			continue
		}
		parsed[i] = ev
	}
	if len(evs) > 0 {
		p.dropParsed(evs[len(evs)-1].ID)
	}
	var keys []string // the keys the batch read last time
	for attempt := 1; ; attempt++ {
		b := newBatch(p.cursor, now, p.states)
		b.tally.debug = p.logger.Enabled(ctx, slog.LevelDebug)
		if err := b.states.prefetch(ctx, keys); err != nil {
			return nil, nil, err
		}
		if err := p.loadDigests(ctx, b); err != nil {
			return nil, nil, err
		}
		for i, e := range evs {
			if parsed[i] == nil {
				b.after = append(b.after, p.metrics.unparsable.Inc)
				continue
			}
			if err := p.process(ctx, b, e.ID, parsed[i]); err != nil {
				return nil, nil, err
			}
		}
		if len(evs) > 0 {
			b.Through = evs[len(evs)-1].ID
		}
		p.closeDue(b, now)
		if err := p.closeQuiet(ctx, b, now, len(evs) < p.batchSize); err != nil {
			p.applyQuiet(b, false)
			return nil, nil, err
		}
		b.stageQuiet()
		sg := p.stageSilences(b, now)
		if b.Through == 0 && len(b.Notifications) == 0 && len(b.digests) == 0 && len(b.Silences) == 0 && len(b.Summaries) == 0 {
			return nil, nil, nil
		}
		if b.states.shared == nil {
			return b, sg, nil
		}
		var err error
		b.claim = append(b.states.changes(), b.digestChanges()...)
		b.claimed, err = b.states.shared.Claim(ctx, b.claim)
		if !errors.Is(err, state.ErrConflict) {
			if err != nil {
				p.applyQuiet(b, false)
			}
			return b, sg, err
		}
		p.applyQuiet(b, false) // decided again: the due summaries too
		if attempt == maxClaims {
			return nil, nil, fmt.Errorf("alert: decision state: %d claims in a row: %w", attempt, err)
		}
		keys = keys[:0]
		for k := range b.states.read {
			keys = append(keys, k)
		}
		// Replicas that conflicted try again at different moments.
		time.Sleep(time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond))))
	}
}

// release undoes the claim of a batch whose commit failed, so that
// deciding it again sees the state it saw. Keys another replica wrote
// over meanwhile stay claimed: logged and counted by the store.
func (p *Pipeline) release(ctx context.Context, b *batch) {
	if b.states.shared == nil || len(b.claimed) == 0 {
		return
	}
	if n, err := b.states.shared.Release(ctx, b.claim, b.claimed); n > 0 || err != nil {
		p.logger.Warn("decision state claimed by an uncommitted batch could not all be released", "keys", n, "err", err)
	}
}

// batch is a store batch being built, with the decision states and
// digests it changes: they apply to memory only once it is committed.
type batch struct {
	store.Batch
	states   *states
	digests  map[string]*digestState // the rule's open digest; nil: closed
	silenced silence.Tally           // events held by silences
	quiet    quietBatch              // due quiet summaries added and done
	after    []func()                // metric updates, applied once committed
	tally    tally                   // and the counts of every event's
	claim    []state.Change          // shared store: the claim made, and
	claimed  []state.Version         // the versions it wrote;
	shared   map[string]sharedDigest // the open digests it read
}

func newBatch(after int64, now time.Time, s state.Store) *batch {
	return &batch{
		Batch:   store.Batch{After: after, ProcessedAt: now},
		states:  newStates(s),
		digests: map[string]*digestState{},
	}
}

// digest returns rule's open digest as the batch sees it.
func (p *Pipeline) digest(b *batch, rule string) (*digestState, bool) {
	if st, ok := b.digests[rule]; ok {
		return st, st != nil
	}
	if b.shared != nil {
		st := b.shared[rule].st
		return st, st != nil
	}
	st, ok := p.digests[rule]
	return st, ok
}

// closeDue closes the digests due at now.
func (p *Pipeline) closeDue(b *batch, now time.Time) {
	due := func(rule string) {
		if st, ok := p.digest(b, rule); ok && !now.Before(st.Digest.End.Add(digestGrace)) {
			p.closeDigest(b, rule, now)
		}
	}
	for rule := range p.digests {
		due(rule)
	}
	for rule := range b.digests {
		due(rule)
	}
}

// process runs one event through the rules, decisions and digests, adding
// what it decides to b.
func (p *Pipeline) process(ctx context.Context, b *batch, id int64, ev *callback.Event) error {
	b.tally.event(callback.CommandLabel(ev.Command))
	var outs []Outcome
	var err error
	outs, p.buf, err = p.evaluate(ctx, b.states, ev, p.buf[:0])
	if err != nil {
		return err
	}
	b.holdSilenced(ev, outs)
	if p.observer != nil {
		b.tally.observed = append(b.tally.observed, ev)
	}
	for _, o := range outs {
		b.Decisions = append(b.Decisions, traceDecision(id, o))
		p.noteThrottled(b, ev, o)
		b.tally.outcome(o)
		if o.Decision.Reason == notify.ReasonDigest {
			p.addToDigest(b, o.Rule, ev)
			continue
		}
		muteLink := ""
		if p.external != "" && p.mute != nil && len(o.Notifications) > 0 {
			muteLink = p.mute.Link(p.external, o.Rule, o.Key, id, ev.ReceivedAt)
		}
		for _, n := range o.Notifications {
			n.EventID = id
			if p.external != "" {
				n.Link = p.external + "/ui/events/" + strconv.FormatInt(id, 10)
				n.MuteLink = muteLink
			}
			b.Notifications = append(b.Notifications, delivery.Encode(n))
			rule, recv := n.Rule, n.Receiver
			b.after = append(b.after, func() { p.metrics.notifications.WithLabelValues(rule, recv).Inc() })
		}
	}
	return nil
}

// digestState is a rule's open digest, as persisted.
type digestState struct {
	Digest        *notify.Digest `json:"digest"`
	Receivers     []string       `json:"receivers"`
	Severity      string         `json:"severity"`
	RuleFile      string         `json:"rule_file"`
	RuleLine      int            `json:"rule_line"`
	Fallback      string         `json:"fallback,omitempty"`
	FallbackAfter time.Duration  `json:"fallback_after,omitempty"`
}

func (p *Pipeline) addToDigest(b *batch, r *rules.Rule, ev *callback.Event) {
	st, ok := p.digest(b, r.Name)
	if ok && !ev.ReceivedAt.Before(st.Digest.End) {
		p.closeDigest(b, r.Name, ev.ReceivedAt)
		ok = false
	}
	if ok {
		if _, mine := b.digests[r.Name]; !mine { // copy on first write
			c := *st
			c.Digest = st.Digest.Clone()
			st = &c
		}
	} else {
		severity := r.Severity
		if severity == "" {
			severity = callback.SeverityWarning
		}
		st = &digestState{
			Digest: notify.NewDigest(ev.ReceivedAt, r.Digest), Receivers: r.Receivers, Severity: severity,
			RuleFile: r.File, RuleLine: r.Line, Fallback: r.Fallback, FallbackAfter: r.FallbackAfter,
		}
	}
	b.digests[r.Name] = st
	st.Digest.Add(ev)
}

// closeDigest turns the rule's open digest into one notification per
// receiver.
func (p *Pipeline) closeDigest(b *batch, rule string, now time.Time) {
	st, _ := p.digest(b, rule)
	b.digests[rule] = nil
	b.after = append(b.after, func() { p.metrics.digests.WithLabelValues(rule).Inc() })
	for _, recv := range st.Receivers {
		n := &notify.Notification{
			ID: notify.NewID(), Receiver: recv, Rule: rule, RuleFile: st.RuleFile, RuleLine: st.RuleLine,
			Severity: st.Severity, Digest: st.Digest.Clone(), CreatedAt: now,
			Fallback: st.Fallback, FallbackAfter: st.FallbackAfter,
		}
		b.Notifications = append(b.Notifications, delivery.Encode(n))
		b.after = append(b.after, func() { p.metrics.notifications.WithLabelValues(rule, recv).Inc() })
	}
}
