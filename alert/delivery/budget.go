package delivery

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/store"
)

// Budget is a receiver's page budget: config.Budget.
type Budget = config.Budget

// budgetState is a queue's budget period, as its worker sees it.
type budgetState struct {
	loaded bool
	period store.BudgetPeriod
	warned bool // the period's first held page was logged
	// taken is the outbox seq of the page a shared budget counted last,
	// and number its place in the period: a retry of that page is not
	// counted again.
	taken  int64
	number int
	// merging: closed periods may have held pages not yet marked merged
	// (see applyMerges).
	merging bool
	// retryAt: a period over whose close failed is not closed again
	// before then. awaits are the storm pages of periods closed here
	// that another replica claimed and has not sent yet.
	retryAt time.Time
	awaits  []awaitedStorm
}

// loadBudget reads the queue's open period from the store once: a restart
// carries on the period, its sent count and its held pages.
func (d *Dispatcher) loadBudget(ctx context.Context, logger *slog.Logger, q *queue) bool {
	if q.budget.loaded {
		return true
	}
	p, err := d.store.OpenBudget(ctx, q.name)
	if err != nil {
		if ctx.Err() == nil {
			logger.Error("reading the budget period failed", "err", err)
		}
		return false
	}
	// Held pages a period closed before a restart merged are marked now.
	q.budget = budgetState{loaded: true, period: p, merging: true}
	return true
}

// overBudget holds head when q's budget for the period is spent, and
// reports whether it did. The first page with no period open starts one.
func (d *Dispatcher) overBudget(ctx context.Context, logger *slog.Logger, q *queue, head store.Notification, now time.Time) bool {
	b := q.dest.Load().Budget
	if b.Pages <= 0 || head.Rule == store.BudgetRule || !d.loadBudget(ctx, logger, q) {
		return false
	}
	if d.o.Budgets != nil {
		if over, decided := d.sharedBudget(ctx, logger, q, head, now, b); decided {
			return over
		}
	}
	p := &q.budget.period
	if p.Start.IsZero() {
		if err := d.store.StartBudget(ctx, q.name, now); err != nil {
			logger.Error("recording a budget period failed", "err", err)
		}
		p.Start, p.Sent, p.Held = now, 0, 0
		q.budget.warned = false
		return false
	}
	if p.Sent < b.Pages {
		return false
	}
	return d.hold(ctx, logger, q, head, b, true)
}

// holdChunk is how many pending pages one transaction holds once a local
// budget is spent.
var holdChunk = 256

// hold marks head held over q's budget; with all, up to holdChunk of q's
// pending pages with it (a spent local budget holds every page of the
// period alike). It reports true, like overBudget, whether or not the
// store took them (it is retried).
func (d *Dispatcher) hold(ctx context.Context, logger *slog.Logger, q *queue, head store.Notification, b Budget, all bool) bool {
	p := &q.budget.period
	n, err := 1, error(nil)
	if all {
		n, err = d.store.HoldPending(ctx, q.name, holdChunk)
	} else {
		err = d.store.Hold(ctx, []int64{head.Seq})
	}
	if err != nil {
		if ctx.Err() == nil {
			logger.Error("holding a page failed", "err", err)
			d.sleep(ctx, retryDelay, nil)
		}
		return true
	}
	p.Held += n
	d.metrics.held.WithLabelValues(q.name).Add(float64(n))
	if !q.budget.warned {
		q.budget.warned = true
		logger.Warn("page budget spent: holding pages until the period ends", "pages", b.Pages, "per", b.Per, "until", p.Start.Add(b.Per))
	}
	return true
}

// countSent counts a page sent against q's budget.
func (q *queue) countSent(rule string) {
	if !q.budget.loaded || q.budget.period.Start.IsZero() || rule == store.BudgetRule {
		return
	}
	if q.budget.number > 0 { // counted in the shared budget already
		q.budget.period.Sent = max(q.budget.period.Sent, q.budget.number)
		q.budget.taken, q.budget.number = 0, 0
		return
	}
	q.budget.period.Sent++
}

// budgetPage places the next page sent in q's budget period; nil without
// a budget, and for a storm page.
func (q *queue) budgetPage(rule string) *notify.BudgetPage {
	b := q.dest.Load().Budget
	if b.Pages <= 0 || !q.budget.loaded || q.budget.period.Start.IsZero() || rule == store.BudgetRule {
		return nil
	}
	n := q.budget.period.Sent + 1
	if q.budget.number > 0 {
		n = q.budget.number
	}
	return &notify.BudgetPage{N: n, Pages: b.Pages, Per: b.Per}
}

// budgetWait bounds wait by the end of q's open period.
func (d *Dispatcher) budgetWait(q *queue, now time.Time, wait time.Duration) time.Duration {
	for _, a := range q.budget.awaits {
		wait = min(wait, a.next.Sub(now))
	}
	if !q.budget.loaded || q.budget.period.Start.IsZero() {
		return max(wait, 0)
	}
	end := maxTime(q.budget.period.Start.Add(q.dest.Load().Budget.Per), q.budget.retryAt)
	return max(min(wait, end.Sub(now)), 0)
}

// closeBudget ends q's period when it is over: the pages it held become
// one storm page, and the budget resets. A period whose budget was removed
// ends at once.
func (d *Dispatcher) closeBudget(ctx context.Context, logger *slog.Logger, q *queue, now time.Time) {
	if !d.loadBudget(ctx, logger, q) {
		return
	}
	if d.o.Budgets != nil {
		d.takeOverStorm(ctx, logger, q, now)
	}
	p := q.budget.period
	b := q.dest.Load().Budget
	if p.Start.IsZero() || (b.Pages > 0 && now.Before(p.Start.Add(b.Per))) || now.Before(q.budget.retryAt) {
		return
	}
	if d.o.Budgets != nil && b.Pages > 0 {
		refs, err := d.store.HeldRefs(ctx, q.name)
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("reading held pages failed", "err", err)
			}
			return
		}
		d.closeShared(ctx, logger, q, b, refs, now)
		return
	}
	// This worker alone holds q's pages: every page held now has a seq up
	// to the last one, and the period's storm page stands for them all.
	through, err := d.store.LastHeld(ctx, q.name)
	if err == nil {
		h := NewHeldPages()
		if err = d.countHeld(ctx, q.name, h, through, nil); err == nil {
			d.commitStorm(ctx, logger, q, p, b, h, store.BudgetClose{HeldThrough: through}, now)
			return
		}
	}
	if ctx.Err() == nil {
		logger.Error("reading held pages failed", "err", err)
	}
}

// applyMerges marks one chunk of the held pages closed periods merged, and
// reports whether more are left. The worker runs it between deliveries,
// so that a storm page goes out without waiting for 200,000 pages to be
// marked. A failure leaves them to the next close or start: until marked,
// they belong to no period.
func (d *Dispatcher) applyMerges(ctx context.Context, logger *slog.Logger) bool {
	more, err := d.store.ApplyMerges(ctx)
	if err != nil && ctx.Err() == nil {
		logger.Warn("marking the held pages of closed periods merged failed: the next close retries", "err", err)
	}
	return more && err == nil
}

// heldChunk is how many held pages countHeld reads at a time.
var heldChunk = 512

// countHeld counts into h the held pages with a seq up to through, those
// keep reports (nil: all), reading them heldChunk at a time.
func (d *Dispatcher) countHeld(ctx context.Context, receiver string, h *HeldPages, through int64, keep func(seq int64) bool) error {
	for after := int64(0); after < through; {
		rows, err := d.store.HeldNotifications(ctx, receiver, after, heldChunk)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		after = rows[len(rows)-1].Seq
		rows = slices.DeleteFunc(rows, func(n store.Notification) bool {
			return n.Seq > through || keep != nil && !keep(n.Seq)
		})
		h.addRows(rows, d.o.Limits)
	}
	return nil
}

// commitStorm closes q's period p as c says, with a storm page for h if
// it counted any page, and reports whether the store took it.
func (d *Dispatcher) commitStorm(ctx context.Context, logger *slog.Logger, q *queue, p store.BudgetPeriod, b Budget, h *HeldPages, c store.BudgetClose, now time.Time) bool {
	c.Receiver, c.At = q.name, now
	if h.Held > 0 {
		row := Encode(d.stormPage(q.name, p, b, h, now))
		c.Storm = &row
	}
	if err := d.store.CloseBudget(ctx, c); err != nil {
		if ctx.Err() == nil {
			logger.Error("closing the budget period failed", "err", err)
		}
		return false
	}
	if !c.KeepOpen {
		q.budget.period, q.budget.retryAt = store.BudgetPeriod{}, time.Time{}
	}
	q.budget.merging = true
	if c.Storm != nil {
		d.metrics.storms.WithLabelValues(q.name).Inc()
		logger.Warn("budget period over: storm page", "sent", p.Sent, "held", h.Held)
	}
	return true
}

// stormPage builds the page that stands for the held pages h.
func (d *Dispatcher) stormPage(receiver string, p store.BudgetPeriod, b Budget, h *HeldPages, now time.Time) *notify.Notification {
	return &notify.Notification{
		ID: notify.NewID(), Receiver: receiver, Rule: store.BudgetRule, GroupKey: "storm",
		Severity: h.severity(), Storm: h.storm(p, b, now), CreatedAt: now,
	}
}
