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
// outbox, and each replica's storm page stands for its own.
type SharedBudgets interface {
	// Period returns the start of receiver's open period, opening one at
	// now, lasting per, if none is open.
	Period(ctx context.Context, receiver string, now time.Time, per time.Duration) (time.Time, error)
	// Take counts one page in the period that starts at start and returns
	// its number in the period, counting every replica's.
	Take(ctx context.Context, receiver string, start time.Time, per time.Duration) (int, error)
	// Sent returns how many pages the period counted, held ones included.
	Sent(ctx context.Context, receiver string, start time.Time) (int, error)
	// FailOpen reports the policy when the budgets do not answer: true,
	// each replica counts on its own (a budget per replica); false, pages
	// wait in the outbox until they answer.
	FailOpen() bool
}

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
		n, err = d.o.Budgets.Take(ctx, q.name, start, b.Per)
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
	return d.hold(ctx, logger, q, head, b), true
}
