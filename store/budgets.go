package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// budgetsSchema holds the open budget period of each receiver with a
// budget: when it started. What was sent and held in it is read from the
// outbox, so a restart neither forgets nor double-counts.
const budgetsSchema = `
CREATE TABLE IF NOT EXISTS budgets (
	receiver     TEXT PRIMARY KEY,
	period_start INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notifications_held ON notifications(receiver, seq) WHERE state = 'held';
CREATE TABLE IF NOT EXISTS merging (
	seq      INTEGER PRIMARY KEY,
	into_seq INTEGER,
	at       INTEGER NOT NULL
);
`

// merging lists held notifications a closed period merged (into a storm
// page, into_seq, or NULL: another replica's) that are still marked held.
// A storm over many groups holds hundreds of thousands of pages: marking
// them all in the transaction that closes the period rewrote the outbox in
// one go, 100 MiB of write-ahead log past its ceiling, with the writer
// held for seconds. The close writes these small rows instead, and the
// marking follows mergeChunk rows to a transaction; a held page listed
// here belongs to no open period.

// mergeChunk is how many held notifications one transaction marks merged.
var mergeChunk = 1000

// notMerging excludes from a query of held notifications n those a closed
// period merged already.
const notMerging = ` AND NOT EXISTS (SELECT 1 FROM merging m WHERE m.seq = n.seq)`

// BudgetRule is the rule name of storm pages: no rule can have it.
const BudgetRule = "(budget)"

// BudgetPeriod is a receiver's open budget period.
type BudgetPeriod struct {
	Start time.Time // zero: no period open
	Sent  int       // pages sent since Start, storm pages aside
	Held  int       // pages held, waiting for the storm page
}

// OpenBudget returns the receiver's open period and what it counted.
func (s *Store) OpenBudget(ctx context.Context, receiver string) (BudgetPeriod, error) {
	var p BudgetPeriod
	var start int64
	err := s.r.QueryRowContext(ctx, `SELECT period_start FROM budgets WHERE receiver = ?`, receiver).Scan(&start)
	if err != nil && err != sql.ErrNoRows {
		return p, fmt.Errorf("store: budget: %w", err)
	}
	p.Start = fromNanos(start)
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM notifications n WHERE receiver = ? AND state = 'held'`+notMerging, receiver).Scan(&p.Held); err != nil {
		return p, fmt.Errorf("store: budget: %w", err)
	}
	if !p.Start.IsZero() {
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE receiver = ? AND state = 'sent'
			AND done_at >= ? AND rule <> ?`, receiver, start, BudgetRule).Scan(&p.Sent); err != nil {
			return p, fmt.Errorf("store: budget: %w", err)
		}
	}
	return p, nil
}

// StartBudget opens a budget period for receiver at start (zero: closes it).
func (s *Store) StartBudget(ctx context.Context, receiver string, start time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if start.IsZero() {
			_, err := tx.ExecContext(ctx, `DELETE FROM budgets WHERE receiver = ?`, receiver)
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO budgets (receiver, period_start) VALUES (?, ?)
			ON CONFLICT (receiver) DO UPDATE SET period_start = excluded.period_start`, receiver, nanos(start))
		return err
	})
}

// Hold marks the pending notifications seqs held: over their receiver's
// budget, kept for its storm page.
func (s *Store) Hold(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		args := make([]any, len(seqs))
		for i, q := range seqs {
			args[i] = q
		}
		_, err := tx.ExecContext(ctx, `UPDATE notifications SET state = 'held' WHERE state = 'pending' AND seq IN (`+placeholders(len(seqs))+`)`, args...)
		return err
	})
}

// HoldPending marks up to limit of receiver's oldest pending
// notifications held, storm pages excepted, and returns how many it held:
// once a budget is spent every page of the period is held, and holding
// them a few hundred to a transaction, not one, is what keeps a storm over
// many groups from outrunning the writer.
func (s *Store) HoldPending(ctx context.Context, receiver string, limit int) (int, error) {
	n, err := s.execChanged(ctx, `UPDATE notifications SET state = 'held' WHERE seq IN (
		SELECT seq FROM notifications WHERE state = 'pending' AND receiver = ? AND rule <> ? ORDER BY seq LIMIT ?)`,
		receiver, BudgetRule, limit)
	return int(n), err
}

// HeldRef names a held notification.
type HeldRef struct {
	Seq int64
	ID  string
}

// HeldRefs returns the receiver's held notifications, oldest first, by
// seq and id only: a storm over many groups holds hundreds of thousands
// of pages, too many to read whole at once.
func (s *Store) HeldRefs(ctx context.Context, receiver string) ([]HeldRef, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT seq, uid FROM notifications n WHERE state = 'held' AND receiver = ?`+notMerging+` ORDER BY seq`, receiver)
	if err != nil {
		return nil, fmt.Errorf("store: held: %w", s.observe(err))
	}
	defer rows.Close()
	var out []HeldRef
	for rows.Next() {
		var r HeldRef
		if err := rows.Scan(&r.Seq, &r.ID); err != nil {
			return nil, fmt.Errorf("store: held: %w", s.observe(err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: held: %w", s.observe(err))
	}
	return out, nil
}

// LastHeld returns the highest seq of the receiver's held notifications,
// 0 when none is held.
func (s *Store) LastHeld(ctx context.Context, receiver string) (int64, error) {
	var seq int64
	err := s.r.QueryRowContext(ctx, `SELECT seq FROM notifications n WHERE state = 'held' AND receiver = ?`+notMerging+`
		ORDER BY seq DESC LIMIT 1`, receiver).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: held: %w", s.observe(err))
	}
	return seq, nil
}

// HeldNotifications returns up to limit of the receiver's held
// notifications with a seq above after, oldest first, with their events.
func (s *Store) HeldNotifications(ctx context.Context, receiver string, after int64, limit int) ([]Notification, error) {
	return s.queryNotifications(ctx, true, `WHERE n.state = 'held' AND n.receiver = ? AND n.seq > ?`+notMerging+` ORDER BY n.seq LIMIT ?`, receiver, after, limit)
}

// Storm closes receiver's budget period in one transaction: it inserts
// the storm page (pending) when there is one, marks the held notifications
// seqs merged into it, and closes the period. It returns the storm page
// with its Seq set.
func (s *Store) Storm(ctx context.Context, receiver string, storm *Notification, seqs []int64, at time.Time) error {
	return s.CloseBudget(ctx, BudgetClose{Receiver: receiver, Storm: storm, Into: seqs, At: at})
}

// BudgetClose is how CloseBudget ends a receiver's budget period.
type BudgetClose struct {
	Receiver string
	// Storm is the storm page to insert (pending), its Seq set on return;
	// nil: none.
	Storm *Notification
	// Into are held notifications merged into Storm, Elsewhere held
	// notifications that another replica's storm page stands for: merged
	// into none here.
	Into, Elsewhere []int64
	// HeldThrough merges into Storm every held notification of Receiver
	// with a seq up to it, as Into would list them.
	HeldThrough int64
	// KeepOpen leaves the open period as it is: a storm page for a period
	// closed before.
	KeepOpen bool
	At       time.Time
}

// CloseBudget closes a budget period in one transaction, as c says. The
// held notifications it merges are marked so later, by ApplyMerges (see
// merging).
func (s *Store) CloseBudget(ctx context.Context, c BudgetClose) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var into any
		if c.Storm != nil {
			ns := []Notification{*c.Storm}
			if err := s.insertNotifications(ctx, tx, ns); err != nil {
				return err
			}
			*c.Storm = ns[0]
			into = c.Storm.Seq
		}
		if err := s.mergeHeld(ctx, tx, c.Into, into, c.At); err != nil {
			return err
		}
		if err := s.mergeHeld(ctx, tx, c.Elsewhere, nil, c.At); err != nil {
			return err
		}
		if c.HeldThrough > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO merging (seq, into_seq, at)
				SELECT seq, ?, ? FROM notifications n WHERE state = 'held' AND receiver = ? AND seq <= ?`,
				into, nanos(c.At), c.Receiver, c.HeldThrough); err != nil {
				return err
			}
		}
		if c.KeepOpen {
			return nil
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM budgets WHERE receiver = ?`, c.Receiver)
		return err
	})
}

// ApplyMerges marks up to mergeChunk held notifications that closed
// periods merged, in one transaction, and reports whether more are left.
func (s *Store) ApplyMerges(ctx context.Context) (more bool, err error) {
	var left bool
	if err := s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM merging)`).Scan(&left); err != nil {
		return false, fmt.Errorf("store: merging held pages: %w", s.observe(err))
	}
	if !left {
		return false, nil // no write transaction for nothing
	}
	var n int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET state = 'merged', done_at = m.at, merged_into = m.into_seq
			FROM (SELECT seq, into_seq, at FROM merging ORDER BY seq LIMIT ?) AS m
			WHERE notifications.seq = m.seq AND notifications.state = 'held'`, mergeChunk); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM merging WHERE seq IN (SELECT seq FROM merging ORDER BY seq LIMIT ?)`, mergeChunk)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: merging held pages: %w", err)
	}
	return n == int64(mergeChunk), nil
}

// mergeHeld lists the held notifications seqs as merged into into (nil:
// none), for ApplyMerges to mark.
func (s *Store) mergeHeld(ctx context.Context, tx *sql.Tx, seqs []int64, into any, at time.Time) error {
	return s.execRows(ctx, tx, qInsertMerging, len(seqs), func(dst []any, i int) []any {
		return append(dst, seqs[i], into, nanos(at))
	}, nil)
}

const qInsertMerging = `INSERT OR IGNORE INTO merging (seq, into_seq, at) VALUES (?, ?, ?)`
