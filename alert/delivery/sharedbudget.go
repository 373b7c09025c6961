package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/imalert/imalert/store"
)

// SharedBudgets counts receivers' page budgets across replicas (Redis,
// with state.backend: redis), so that N replicas together send at most a
// budget's pages per period. The periods are shared: the first page of
// any replica opens one for all. Held pages stay in each replica's
// outbox; what they add up to is folded into the period's shared count,
// and at its end one replica, the one that claims it, sends one storm
// page for every replica's.
type SharedBudgets interface {
	// Period returns the start of receiver's open period, opening one at
	// now, lasting per, if none is open.
	Period(ctx context.Context, receiver string, now time.Time, per time.Duration) (time.Time, error)
	// Take counts one page in the period that starts at start and returns
	// its number in the period, counting every replica's; when pages are
	// counted already it counts nothing and returns pages+1 (held).
	Take(ctx context.Context, receiver string, start time.Time, per time.Duration, pages int) (int, error)
	// Give gives back one page Take counted in the period that starts at
	// start: a page given up.
	Give(ctx context.Context, receiver string, start time.Time) error
	// Fold adds h, one page held over the period that starts at start,
	// to what every replica held in it, once per page id. It reports
	// false, adding nothing, when the period's storm page is claimed
	// already: the page belongs to the next period.
	Fold(ctx context.Context, receiver string, start time.Time, per time.Duration, id string, h *HeldPages) (bool, error)
	// Folded reports which of ids Fold added to the period.
	Folded(ctx context.Context, receiver string, start time.Time, ids []string) (map[string]bool, error)
	// ClaimStorm claims the period's storm page for this process, for a
	// lease: a claimer that neither sends it nor asks again within the
	// lease loses it to the next one to ask.
	ClaimStorm(ctx context.Context, receiver string, start time.Time) (StormClaim, error)
	// Held returns what every replica held in the period, and how many
	// pages it counted (Take).
	Held(ctx context.Context, receiver string, start time.Time) (*HeldPages, int, error)
	// StormSent marks the period's storm page sent: in an outbox.
	StormSent(ctx context.Context, receiver string, start time.Time) error
	// FailOpen reports the policy when the budgets do not answer: true,
	// each replica counts on its own (a budget per replica); false, pages
	// wait in the outbox until they answer.
	FailOpen() bool
}

// StormClaim is what ClaimStorm found.
type StormClaim int

const (
	StormWon   StormClaim = iota // this process sends the storm page
	StormTaken                   // another process's lease runs
	StormSent                    // the storm page is in an outbox
)

// sharedBudget is overBudget with a shared budget: it counts head once in
// the shared period and holds it past the budget. decided is false when
// the budgets do not answer under fail open: the replica's own count
// decides.
func (d *Dispatcher) sharedBudget(ctx context.Context, logger *slog.Logger, q *queue, head store.Notification, now time.Time, b Budget) (over, decided bool) {
	if q.budget.taken == head.Seq && q.budget.number > 0 {
		return false, true // a retry of the page counted already
	}
	q.budget.taken, q.budget.number = 0, 0
	start, err := d.o.Budgets.Period(ctx, q.name, now, b.Per)
	n := 0
	if err == nil {
		n, err = d.o.Budgets.Take(ctx, q.name, start, b.Per, b.Pages)
	}
	if err != nil {
		if d.o.Budgets.FailOpen() {
			return false, false
		}
		if ctx.Err() == nil {
			logger.Warn("shared page budget unreachable: the page waits", "err", err)
			d.sleep(ctx, retryDelay, nil)
		}
		return true, true
	}
	p := &q.budget.period
	if !p.Start.Equal(start) { // a period another replica opened, or a new one
		if err := d.store.StartBudget(ctx, q.name, start); err != nil {
			logger.Error("recording a budget period failed", "err", err)
		}
		p.Start, p.Sent = start, 0
		q.budget.warned = false
	}
	if n <= b.Pages {
		q.budget.taken, q.budget.number = head.Seq, n
		return false, true
	}
	p.Sent = b.Pages
	if !d.fold(ctx, logger, q, head, start, now, b) {
		return true, true // waits, or goes to the next period
	}
	return d.hold(ctx, logger, q, head, b, false), true
}

// fold adds head, held over the shared period that starts at start, to
// what every replica held in it, and reports whether to hold it. Under
// fail open an unanswered fold holds it all the same: this replica's
// storm page will tell it.
func (d *Dispatcher) fold(ctx context.Context, logger *slog.Logger, q *queue, head store.Notification, start, now time.Time, b Budget) bool {
	h := NewHeldPages()
	h.addRows([]store.Notification{head}, d.o.Limits)
	ok, err := d.o.Budgets.Fold(ctx, q.name, start, b.Per, head.ID, h)
	switch {
	case err != nil && d.o.Budgets.FailOpen():
		return true
	case err != nil:
		if ctx.Err() == nil {
			logger.Warn("shared page budget unreachable: the page waits", "err", err)
			d.sleep(ctx, retryDelay, nil)
		}
		return false
	case !ok: // the storm page is out: wait for this clock to see the period over
		d.sleep(ctx, min(retryDelay, max(start.Add(b.Per).Sub(now), 0)), nil)
		return false
	}
	return true
}

// giveBack gives back the place a page given up (a) took in q's shared
// budget, while its period lasts: a budget is not used up by pages that
// never went out.
func (d *Dispatcher) giveBack(ctx context.Context, logger *slog.Logger, q *queue, a *attempt, now time.Time) {
	taken := q.budget.taken == a.head.Seq && q.budget.number > 0
	q.budget.taken, q.budget.number = 0, 0
	p, b := q.budget.period, a.dest.Budget
	if d.o.Budgets == nil || !taken || b.Pages <= 0 || !now.Before(p.Start.Add(b.Per)) {
		return
	}
	if err := d.o.Budgets.Give(ctx, q.name, p.Start); err != nil && ctx.Err() == nil {
		logger.Warn("giving back a dead letter's place in the shared budget failed", "err", err)
	}
}
