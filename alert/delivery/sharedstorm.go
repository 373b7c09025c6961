package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/imalert/imalert/store"
)

// stormLook is how often a replica asks again about a storm page another
// replica claimed: sent, or its lease lapsed and this replica sends it.
const stormLook = 5 * time.Second

// maxAwaits bounds the storm pages a queue waits on.
const maxAwaits = 16

// awaitedStorm is a storm page another replica claimed.
type awaitedStorm struct {
	period store.BudgetPeriod
	budget Budget
	next   time.Time // when to ask again
}

// closeShared closes q's period over a shared budget. The replica that
// claims the storm page sends it, for what every replica held; the
// others mark their held pages merged and wait for it to be sent (or take
// it over). Held pages the shared count lacks (held while Redis did not
// answer, under fail open) go into this replica's storm page.
func (d *Dispatcher) closeShared(ctx context.Context, logger *slog.Logger, q *queue, b Budget, rows []store.HeldRef, now time.Time) {
	p := q.budget.period
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	folded, err := d.o.Budgets.Folded(ctx, q.name, p.Start, ids)
	claim := StormTaken
	if err == nil {
		claim, err = d.o.Budgets.ClaimStorm(ctx, q.name, p.Start)
	}
	h := NewHeldPages()
	if err == nil && claim == StormWon {
		h, p.Sent, err = d.sharedHeld(ctx, q.name, p, b)
	}
	if err != nil {
		if !d.o.Budgets.FailOpen() {
			if ctx.Err() == nil {
				logger.Warn("shared page budget unreachable: the storm page waits", "err", err)
			}
			q.budget.retryAt = now.Add(retryDelay)
			return
		}
		h, folded, claim = NewHeldPages(), nil, StormSent // this replica tells its own
	}
	var c store.BudgetClose
	var own []store.HeldRef
	for _, r := range rows {
		switch {
		case !folded[r.ID]:
			own = append(own, r)
			c.Into = append(c.Into, r.Seq)
		case claim == StormWon:
			c.Into = append(c.Into, r.Seq)
		default:
			c.Elsewhere = append(c.Elsewhere, r.Seq)
		}
	}
	var through int64
	want := make(map[int64]bool, len(own))
	for _, r := range own {
		want[r.Seq] = true
		through = r.Seq
	}
	if err := d.countHeld(ctx, q.name, h, through, func(seq int64) bool { return want[seq] }); err != nil {
		if ctx.Err() == nil {
			logger.Error("reading held pages failed", "err", err)
		}
		return
	}
	if !d.commitStorm(ctx, logger, q, p, b, h, c, now) {
		return
	}
	switch claim {
	case StormWon:
		d.stormSent(ctx, logger, q.name, p.Start)
	case StormTaken:
		d.await(logger, q, awaitedStorm{period: p, budget: b, next: now.Add(stormLook)})
	}
}

// sharedHeld reads what every replica held in p, and p's sent count.
func (d *Dispatcher) sharedHeld(ctx context.Context, receiver string, p store.BudgetPeriod, b Budget) (*HeldPages, int, error) {
	h, n, err := d.o.Budgets.Held(ctx, receiver, p.Start)
	return h, min(max(p.Sent, n), b.Pages), err
}

// stormSent marks a storm page committed to the outbox. If it cannot, the
// claim's lease lapses and another replica sends a second one: a
// duplicate rather than a loss.
func (d *Dispatcher) stormSent(ctx context.Context, logger *slog.Logger, receiver string, start time.Time) {
	if err := d.o.Budgets.StormSent(ctx, receiver, start); err != nil && ctx.Err() == nil {
		logger.Warn("marking the storm page sent failed: another replica may send it again", "err", err)
	}
}

func (d *Dispatcher) await(logger *slog.Logger, q *queue, a awaitedStorm) {
	if len(q.budget.awaits) == maxAwaits {
		logger.Warn("waiting on too many storm pages of other replicas: forgetting the oldest", "period", q.budget.awaits[0].period.Start)
		q.budget.awaits = q.budget.awaits[1:]
	}
	q.budget.awaits = append(q.budget.awaits, a)
}

// takeOverStorm asks again about the storm pages q waits on: one sent is
// forgotten, one whose claim lapsed is sent from here.
func (d *Dispatcher) takeOverStorm(ctx context.Context, logger *slog.Logger, q *queue, now time.Time) {
	kept := q.budget.awaits[:0]
	for _, a := range q.budget.awaits {
		if now.Before(a.next) || !d.takeOver(ctx, logger, q, &a, now) {
			kept = append(kept, a)
		}
	}
	clear(q.budget.awaits[len(kept):])
	q.budget.awaits = kept
}

// takeOver asks about a once and reports whether it is settled.
func (d *Dispatcher) takeOver(ctx context.Context, logger *slog.Logger, q *queue, a *awaitedStorm, now time.Time) bool {
	a.next = now.Add(stormLook)
	claim, err := d.o.Budgets.ClaimStorm(ctx, q.name, a.period.Start)
	if err != nil || claim == StormTaken {
		return false
	}
	if claim == StormSent {
		return true
	}
	h, sent, err := d.sharedHeld(ctx, q.name, a.period, a.budget)
	if err != nil {
		return false
	}
	a.period.Sent = sent
	logger.Warn("a storm page claimed by another replica was not sent: sending it", "period", a.period.Start)
	if !d.commitStorm(ctx, logger, q, a.period, a.budget, h, store.BudgetClose{KeepOpen: true}, now) {
		return false
	}
	d.stormSent(ctx, logger, q.name, a.period.Start)
	return true
}
