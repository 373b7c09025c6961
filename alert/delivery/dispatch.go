package delivery

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/store"
)

// Retry is a receiver's retry policy; config.DefaultRetry fills what a
// receiver leaves unset.
type Retry = config.Retry

// retryDelay is the pause after a failed store operation.
const retryDelay = time.Second

// Destination is one receiver as the dispatcher sees it.
type Destination struct {
	Name     string
	Notifier notify.Notifier
	Retry    Retry
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Pace is the least time between two messages to the destination (Slack
	// takes about one message per second per channel); 0: no pacing.
	Pace time.Duration
	// PaceKey makes receivers that post to the same place (one Slack
	// channel, one webhook) share pacing and Retry-After; empty: Name.
	PaceKey string
	// IncidentTTL: with a notify.ThreadNotifier, a notification continues the
	// incident of the same rule and group key if that incident's last
	// message is more recent than this; 0: every notification is new.
	IncidentTTL time.Duration
	// Budget bounds the pages sent per period; beyond it pages are held
	// and one storm page at the period's end stands for them.
	Budget Budget
}

// DispatcherOptions configure a Dispatcher.
type DispatcherOptions struct {
	Logger       *slog.Logger
	Metrics      *Metrics
	Store        *store.Store
	Destinations []Destination
	// Limits are the parser's limits for re-parsing journal entries.
	Limits callback.Limits
	// Redact scrubs secrets from error text before it is stored or logged.
	Redact func(string) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnDead, when set, is told of each notification given up (a dead
	// letter), after it is recorded.
	OnDead func(n *notify.Notification)
	// Budgets, when set, counts receivers' budgets across replicas; nil:
	// each budget is this dispatcher's own.
	Budgets SharedBudgets
	// MergeLimit bounds the notifications merged into one message;
	// default 1000.
	MergeLimit int
	// IdlePoll is how often an idle queue looks at the outbox for work it
	// was not told about (a dead letter requeued from the command line);
	// default 30s.
	IdlePoll time.Duration
	// FallbackCheck is how often a failing queue, while it waits (backoff,
	// Retry-After), hands what is due to the rules' fallbacks; default 5s.
	FallbackCheck time.Duration
}

// Dispatcher delivers the outbox: one queue and one worker per receiver, so
// a slow or failing receiver never delays another. A worker makes one
// attempt at a time, oldest notification first; it merges the pending
// notifications for the same rule and group key into that attempt, paces
// its destination, backs off with jitter on failure, honours Retry-After,
// reroutes to a rule's fallback receiver, and dead-letters what fails past
// its receiver's give_up_after. Every outcome is recorded in the store, so
// a restart resumes exactly the undelivered notifications.
type Dispatcher struct {
	o       DispatcherOptions
	logger  *slog.Logger
	metrics *Metrics
	store   *store.Store
	queues  map[string]*queue
	now     func() time.Time

	drainOnce sync.Once
	drain     chan struct{}
	drainMu   sync.Mutex
	deadline  time.Time
}

type queue struct {
	name  string
	dest  atomic.Pointer[Destination] // swapped by SetDestinations
	pacer *pacer
	wake  chan struct{}

	// Owned by the queue's worker.
	backoff      time.Duration
	notBefore    time.Time
	failingSince time.Time
	lastErr      string
	budget       budgetState
}

// NewDispatcher returns a dispatcher; call Run to start delivering.
func NewDispatcher(o DispatcherOptions) *Dispatcher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
	if o.MergeLimit <= 0 {
		o.MergeLimit = 1000
	}
	if o.FallbackCheck <= 0 {
		o.FallbackCheck = 5 * time.Second
	}
	if o.IdlePoll <= 0 {
		o.IdlePoll = 30 * time.Second
	}
	d := &Dispatcher{
		o: o, logger: o.Logger, metrics: o.Metrics, store: o.Store, now: o.Now,
		queues: make(map[string]*queue, len(o.Destinations)),
		drain:  make(chan struct{}),
	}
	pacers := map[string]*pacer{}
	for _, dest := range o.Destinations {
		dest = withDefaults(dest)
		p, ok := pacers[dest.PaceKey]
		if !ok {
			p = &pacer{}
			pacers[dest.PaceKey] = p
		}
		p.interval = max(p.interval, dest.Pace)
		q := &queue{name: dest.Name, pacer: p, wake: make(chan struct{}, 1), backoff: dest.Retry.Initial}
		q.dest.Store(&dest)
		d.queues[dest.Name] = q
	}
	return d
}

// withDefaults fills in what dest leaves unset.
func withDefaults(dest Destination) Destination {
	if dest.Retry.Initial <= 0 {
		dest.Retry.Initial = config.DefaultRetry.Initial
	}
	if dest.Retry.Max <= 0 {
		dest.Retry.Max = max(config.DefaultRetry.Max, dest.Retry.Initial)
	}
	if dest.Retry.GiveUpAfter <= 0 {
		dest.Retry.GiveUpAfter = config.DefaultRetry.GiveUpAfter
	}
	if dest.Timeout <= 0 {
		dest.Timeout = 30 * time.Second
	}
	if dest.PaceKey == "" {
		dest.PaceKey = dest.Name
	}
	return dest
}

// SetDestinations swaps in ds, for a receiver reload, while Run delivers.
// A destination replaces the one of the same name: its worker takes the
// new notifier, retry policy, timeout and incident TTL from its next
// attempt on (an attempt in flight ends on the old notifier), and its
// queue carries on: pending notifications, backoff and pacing stay. What
// cannot change while running is left as it was and named in
// needRestart: a receiver added or removed, or one whose pace or pace key
// changed (pacing is shared between queues).
func (d *Dispatcher) SetDestinations(ds []Destination) (needRestart []string) {
	seen := make(map[string]bool, len(ds))
	var swap []*queue
	var dests []Destination
	for _, dest := range ds {
		dest = withDefaults(dest)
		seen[dest.Name] = true
		q, ok := d.queues[dest.Name]
		if !ok {
			needRestart = append(needRestart, dest.Name)
			continue
		}
		if old := q.dest.Load(); old.Pace != dest.Pace || old.PaceKey != dest.PaceKey {
			needRestart = append(needRestart, dest.Name)
			continue
		}
		swap, dests = append(swap, q), append(dests, dest)
	}
	for i, q := range swap {
		q.dest.Store(&dests[i])
	}
	for name := range d.queues {
		if !seen[name] {
			needRestart = append(needRestart, name)
		}
	}
	slices.Sort(needRestart)
	return needRestart
}

// SetNotifier replaces the notifier of receiver name, keeping its queue,
// pacing, backoff and every other setting; it reports false when the
// receiver has no queue. An attempt in flight finishes on the old notifier.
func (d *Dispatcher) SetNotifier(name string, n notify.Notifier) bool {
	q, ok := d.queues[name]
	if !ok {
		return false
	}
	dest := *q.dest.Load()
	dest.Notifier = n
	q.dest.Store(&dest)
	return true
}

// Wake tells receiver's worker that new notifications are in the outbox.
func (d *Dispatcher) Wake(receiver string) {
	if q, ok := d.queues[receiver]; ok {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// Drain makes Run return once every queue is empty, or has nothing it may
// attempt before deadline. What is left stays in the outbox for the next
// start; ending Run's ctx cuts attempts in flight short.
func (d *Dispatcher) Drain(deadline time.Time) {
	d.drainMu.Lock()
	d.deadline = deadline
	d.drainMu.Unlock()
	d.drainOnce.Do(func() { close(d.drain) })
}

func (d *Dispatcher) draining() (bool, time.Time) {
	select {
	case <-d.drain:
		d.drainMu.Lock()
		defer d.drainMu.Unlock()
		return true, d.deadline
	default:
		return false, time.Time{}
	}
}

// Run delivers until ctx ends, or until Drain has been called and the
// queues are drained. It returns once every worker has stopped.
func (d *Dispatcher) Run(ctx context.Context) {
	if counts, err := d.store.PendingCounts(ctx); err == nil {
		for r, n := range counts {
			if _, ok := d.queues[r]; !ok {
				d.logger.Warn("pending notifications for a receiver no longer configured", "receiver", r, "count", n)
			} else if n > 0 {
				d.logger.Info("resuming delivery", "receiver", r, "pending", n)
			}
		}
	}
	var wg sync.WaitGroup
	for _, q := range d.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.work(ctx, q)
		}()
	}
	wg.Wait()
}

// sleep waits for dur, or until ctx ends; a drain or wake signal ends it
// early too (wake may be nil). It reports whether ctx is still live.
func (d *Dispatcher) sleep(ctx context.Context, dur time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(dur)
	defer t.Stop()
	drain := d.drain
	if ok, _ := d.draining(); ok {
		drain = nil // already draining: do not spin on the closed channel
	}
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	case <-drain:
	}
	return true
}

func (d *Dispatcher) work(ctx context.Context, q *queue) {
	logger := d.logger.With("receiver", q.name)
	for ctx.Err() == nil {
		d.closeBudget(ctx, logger, q, d.now())
		if q.budget.merging {
			q.budget.merging = d.applyMerges(ctx, logger)
		}
		head, ok, err := d.store.NextPending(ctx, q.name)
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("reading the outbox failed", "err", err)
				d.sleep(ctx, retryDelay, nil)
			}
			continue
		}
		draining, deadline := d.draining()
		if !ok {
			if draining {
				return
			}
			if q.budget.merging {
				continue // nothing to deliver: mark the next chunk at once
			}
			d.sleep(ctx, d.budgetWait(q, d.now(), d.o.IdlePoll), q.wake)
			continue
		}
		now := d.now()
		if d.overBudget(ctx, logger, q, head, now) {
			continue // held without waiting for pacing or backoff
		}
		if now.Before(q.notBefore) { // backing off
			if draining && q.notBefore.After(deadline) {
				logger.Info("leaving undelivered notifications for the next start", "next_attempt", q.notBefore)
				return
			}
			d.sleep(ctx, d.whileFailing(ctx, logger, q, now, q.notBefore.Sub(now)), nil)
			continue // the head may have changed, or more merged in
		}
		if wait := q.pacer.reserve(now); wait > 0 { // paced, or Retry-After
			if draining && now.Add(wait).After(deadline) {
				logger.Info("leaving undelivered notifications for the next start", "next_attempt", now.Add(wait))
				return
			}
			d.sleep(ctx, d.whileFailing(ctx, logger, q, now, wait), nil)
			continue
		}
		d.deliver(ctx, logger, q, head)
	}
}

// whileFailing reroutes what is due to fallbacks when q is failing, and
// returns how long to wait: wait, but no longer than the next such check,
// so a long wait does not hold a page past its rule's fallback time.
func (d *Dispatcher) whileFailing(ctx context.Context, logger *slog.Logger, q *queue, now time.Time, wait time.Duration) time.Duration {
	if q.failingSince.IsZero() {
		return wait
	}
	d.rerouteFailing(ctx, logger, q, now)
	return min(wait, d.o.FallbackCheck)
}

// deliver makes one attempt at head, merged with the pending notifications
// like it, and records the outcome.
func (d *Dispatcher) deliver(ctx context.Context, logger *slog.Logger, q *queue, head store.Notification) {
	group, ok := d.pendingLike(ctx, logger, q, head)
	if !ok {
		return
	}
	a := &attempt{head: head, group: group, n: merge(group), dest: q.dest.Load()}
	a.n.Budget = q.budgetPage(a.n.Rule)
	for _, g := range group[1:] {
		a.merged = append(a.merged, g.Seq)
	}
	ref, incident, now, err := d.try(ctx, q, a)
	switch {
	case err == nil:
		d.sent(ctx, logger, q, a, now, ref, incident)
	case ctx.Err() != nil:
		// Cut short by shutdown: not the destination's fault, and the
		// notification stays pending for the next start.
	default:
		d.failed(ctx, logger, q, a, now, err)
	}
}

// attempt is one delivery attempt: the head of a queue and the pending
// notifications merged into it.
type attempt struct {
	head   store.Notification
	group  []*notify.Notification // head first
	n      *notify.Notification   // the group merged
	merged []int64                // outbox positions of group[1:]
	dest   *Destination
}

// pendingLike reads the pending notifications of q like head, head first.
func (d *Dispatcher) pendingLike(ctx context.Context, logger *slog.Logger, q *queue, head store.Notification) ([]*notify.Notification, bool) {
	rows, err := d.store.PendingLike(ctx, q.name, head.Rule, head.GroupKey, d.o.MergeLimit)
	if err != nil || len(rows) == 0 {
		if err != nil && ctx.Err() == nil {
			logger.Error("reading the outbox failed", "err", err)
			d.sleep(ctx, retryDelay, nil)
		}
		return nil, false
	}
	group := make([]*notify.Notification, 0, len(rows))
	for _, r := range rows {
		n, err := Decode(r, d.o.Limits)
		if err != nil {
			logger.Warn("notification partly unreadable", "notification", n, "err", err)
		}
		group = append(group, n)
	}
	return group, true
}

// try sends a.n once, continuing its open incident where the notifier
// threads, and returns when the attempt ended.
func (d *Dispatcher) try(ctx context.Context, q *queue, a *attempt) (ref string, incident *store.Incident, end time.Time, err error) {
	n, dest := a.n, a.dest
	prev := ""
	tn, threads := dest.Notifier.(notify.ThreadNotifier)
	if threads && dest.IncidentTTL > 0 {
		incident = &store.Incident{Receiver: q.name, Rule: n.Rule, GroupKey: n.GroupKey}
		if inc, ok, err := d.store.Incident(ctx, q.name, n.Rule, n.GroupKey); err == nil && ok && d.now().Sub(inc.Last) < dest.IncidentTTL {
			prev = inc.Ref
		}
	}
	actx, cancel := context.WithTimeout(ctx, dest.Timeout)
	t0 := time.Now()
	if threads {
		ref, err = tn.NotifyThread(actx, n, prev)
	} else {
		err = dest.Notifier.Notify(actx, n)
	}
	cancel()
	end = d.now()
	// Pace from the end of the attempt: the destination has then seen the
	// request, so the next one reaches it at least one interval later
	// whatever the latency.
	q.pacer.sent(end)
	d.metrics.attempts.WithLabelValues(q.name).Inc()
	d.metrics.latency.WithLabelValues(q.name).Observe(time.Since(t0).Seconds())
	return ref, incident, end, err
}

// sent records a successful attempt.
func (d *Dispatcher) sent(ctx context.Context, logger *slog.Logger, q *queue, a *attempt, now time.Time, ref string, incident *store.Incident) {
	q.backoff, q.notBefore, q.failingSince, q.lastErr = a.dest.Retry.Initial, time.Time{}, time.Time{}, ""
	q.countSent(a.n.Rule)
	d.finish(ctx, logger, store.Outcome{Seq: a.n.Seq, Merged: a.merged, State: store.Sent, At: now, Attempted: true,
		Data: Encode(a.n).Data, Ref: ref, Incident: incident})
	d.metrics.deliveries.WithLabelValues(q.name, "sent").Inc()
	if len(a.merged) > 0 {
		d.metrics.merged.WithLabelValues(q.name).Add(float64(len(a.merged)))
	}
	if a.head.Attempts > 0 {
		logger.Info("delivered after retries", "notification", a.n, "attempts", a.head.Attempts+1, "merged", len(a.merged))
	}
}

// failed records a failed attempt, then backs off, reroutes to the
// fallback, or gives up.
func (d *Dispatcher) failed(ctx context.Context, logger *slog.Logger, q *queue, a *attempt, now time.Time, err error) {
	n := a.n
	retryable, reason, after := notify.Classify(err)
	msg := d.o.Redact(err.Error())
	d.metrics.failures.WithLabelValues(q.name, reason).Inc()
	if msg != q.lastErr {
		logger.Warn("delivery attempt failed", "notification", n, "attempt", a.head.Attempts+1, "retryable", retryable, "err", msg)
		q.lastErr = msg
	}
	if q.failingSince.IsZero() {
		q.failingSince = now
	}
	if !retryable || now.Sub(n.CreatedAt) >= a.dest.Retry.GiveUpAfter {
		if n.Fallback != "" && d.queues[n.Fallback] != nil {
			// The primary cannot take it: the fallback gets it now rather
			// than after a wait that cannot help. The notifications move
			// as they were, not merged: the fallback merges them itself,
			// so nothing is counted twice.
			d.reroute(ctx, logger, q, now, a.group)
			return
		}
		d.finish(ctx, logger, store.Outcome{Seq: n.Seq, Merged: a.merged, State: store.Dead, At: now, Attempted: true,
			Error: msg, Data: Encode(n).Data})
		d.metrics.deliveries.WithLabelValues(q.name, "dead").Inc()
		d.metrics.dead.WithLabelValues(q.name).Inc()
		logger.Error("notification given up: dead letter", "notification", n, "attempts", a.head.Attempts+1, "retryable", retryable, "err", msg)
		d.giveBack(ctx, logger, q, a, now)
		if d.o.OnDead != nil {
			d.o.OnDead(n)
		}
		return
	}
	if err := d.store.Attempt(ctx, n.Seq, now, msg); err != nil && ctx.Err() == nil {
		logger.Error("recording an attempt failed", "err", err)
	}
	q.notBefore = now.Add(max(jitter(q.backoff), after))
	q.backoff = min(q.backoff*2, a.dest.Retry.Max)
	if after > 0 {
		q.pacer.hold(now.Add(after))
	}
	d.rerouteFailing(ctx, logger, q, now)
}

// finish records an outcome, retrying while the store fails: a delivered
// notification that is not marked would be sent again. The write itself is
// not cut short by shutdown, only the retries are.
func (d *Dispatcher) finish(ctx context.Context, logger *slog.Logger, o store.Outcome) {
	for {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := d.store.Finish(fctx, o)
		cancel()
		if err == nil || errors.Is(err, store.ErrNotPending) {
			return
		}
		if ctx.Err() != nil {
			return
		}
		logger.Error("recording a delivery failed; retrying", "err", err)
		if !d.sleep(ctx, retryDelay, nil) {
			return
		}
	}
}

// rerouteFailing hands the receiver's pending notifications whose rule has
// a fallback to that fallback, once the receiver has been failing for the
// rule's fallback time.
func (d *Dispatcher) rerouteFailing(ctx context.Context, logger *slog.Logger, q *queue, now time.Time) {
	failing := now.Sub(q.failingSince)
	rows, err := d.store.Pending(ctx, q.name, d.o.MergeLimit)
	if err != nil {
		return
	}
	var due []*notify.Notification
	for _, r := range rows {
		n, _ := Decode(r, d.o.Limits)
		if n.Fallback != "" && d.queues[n.Fallback] != nil && failing >= n.FallbackAfter {
			due = append(due, n)
		}
	}
	if len(due) > 0 {
		d.reroute(ctx, logger, q, now, due)
	}
}

// reroute moves ns to their fallback receivers.
func (d *Dispatcher) reroute(ctx context.Context, logger *slog.Logger, q *queue, now time.Time, ns []*notify.Notification) {
	var seqs []int64
	var repl []store.Notification
	for _, n := range ns {
		c := *n
		c.ID, c.Receiver, c.CreatedAt, c.Fallback, c.FallbackAfter = notify.NewID(), n.Fallback, now, "", 0
		c.Seq = 0
		seqs = append(seqs, n.Seq)
		repl = append(repl, Encode(&c))
	}
	out, err := d.store.Reroute(ctx, now, seqs, repl)
	if err != nil {
		if ctx.Err() == nil {
			logger.Error("rerouting to the fallback failed", "err", err)
		}
		return
	}
	woken := map[string]bool{}
	for _, r := range out {
		d.metrics.rerouted.WithLabelValues(q.name, r.Receiver).Inc()
		if !woken[r.Receiver] {
			woken[r.Receiver] = true
			d.Wake(r.Receiver)
		}
	}
	logger.Warn("notifications rerouted to fallback", "count", len(out), "failing_for", now.Sub(q.failingSince).Round(time.Millisecond))
}

// pacer spaces the messages to one destination.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time // no message before this
	held     time.Time // Retry-After: no message before this
}

// reserve takes the next slot if it is open at now and returns 0;
// otherwise it returns how long until the next slot. The caller sends
// right after a successful reservation.
func (p *pacer) reserve(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := maxTime(p.next, p.held)
	if now.Before(at) {
		return at.Sub(now)
	}
	p.next = now.Add(p.interval)
	return 0
}

// sent records that an attempt ended at t: the next may start one
// interval later.
func (p *pacer) sent(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = maxTime(p.next, t.Add(p.interval))
}

// hold stops all messages until t (Retry-After).
func (p *pacer) hold(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = maxTime(p.held, t)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// jitter spreads d over [d/2, d) so that retries of many notifications do
// not arrive together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(half)
}
