package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// State is where a notification is in its life.
type State string

// Notification states. Pending is the only one that is not final.
const (
	Pending  State = "pending"  // waiting for delivery
	Sent     State = "sent"     // delivered
	Merged   State = "merged"   // folded into another notification that was delivered or given up
	Dead     State = "dead"     // given up: dead letter, kept and listed
	Rerouted State = "rerouted" // handed to the rule's fallback receiver
	Held     State = "held"     // over the receiver's budget: waits for the period's storm page
)

// ValidState reports whether s names a state.
func ValidState(s State) bool {
	switch s {
	case Pending, Sent, Merged, Dead, Rerouted, Held:
		return true
	}
	return false
}

// Notification is one outbox row. Data is opaque to the store: the alert
// package's encoding of everything the row's columns do not hold.
type Notification struct {
	Seq       int64 // outbox order
	ID        string
	Receiver  string
	Rule      string
	GroupKey  string
	EventID   int64 // 0: not about one event (a digest)
	CreatedAt time.Time
	State     State
	Data      []byte

	Attempts      int
	LastError     string
	LastAttemptAt time.Time
	DoneAt        time.Time
	MergedInto    int64
	Ref           string // the destination's handle of the message sent

	// Event is the journal entry EventID names, loaded with pending
	// notifications for delivery.
	Event *Event
}

// Window is the persisted decision state of one key: a throttle window, a
// threshold's recent matches, a first-seen mark. Data is the decider's own
// encoding; nil Data deletes the key. KeepUntil is when the retention sweep
// may drop it.
type Window struct {
	Key       string
	KeepUntil time.Time
	Data      []byte
}

// Digest is the persisted accumulator of one rule's digest; nil Data
// deletes it.
type Digest struct {
	Rule string
	Data []byte
}

// Batch is what processing a run of journal entries decided. Commit writes
// it in one transaction: the entries are marked processed together with the
// notifications, throttle windows and digests they caused, so a crash
// leaves either all of it or none.
type Batch struct {
	// After and Through bound the processed entries: every unprocessed
	// entry with After < id <= Through. Through 0 marks none. Entries are
	// processed in id order: Commit moves the processing cursor to
	// Through (never back), which marks every entry up to it.
	After, Through int64
	ProcessedAt    time.Time

	Notifications []Notification // Seq is set by Commit
	Windows       []Window
	Digests       []Digest
	Decisions     []Decision // the trace of the entries' matches
	Silences      []SilenceUpdate
	Summaries     []Summary
}

// Commit writes b in one transaction.
func (s *Store) Commit(ctx context.Context, b *Batch) error {
	ctx = short(ctx)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if b.Through > 0 {
			stmt, err := s.txStmt(ctx, tx, qMarkProcessed)
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(ctx, b.Through, nanos(b.ProcessedAt), b.Through); err != nil {
				return err
			}
		}
		if err := s.insertNotifications(ctx, tx, b.Notifications); err != nil {
			return err
		}
		if err := s.insertDecisions(ctx, tx, b.Decisions); err != nil {
			return err
		}
		if err := s.writeWindows(ctx, tx, b.Windows); err != nil {
			return err
		}
		for _, d := range b.Digests {
			var err error
			if d.Data == nil {
				_, err = s.exec(ctx, tx, `DELETE FROM digests WHERE rule = ?`, d.Rule)
			} else {
				_, err = s.exec(ctx, tx, `INSERT INTO digests (rule, data) VALUES (?, ?)
					ON CONFLICT (rule) DO UPDATE SET data = excluded.data`, d.Rule, d.Data)
			}
			if err != nil {
				return err
			}
		}
		if err := s.updateSummaries(ctx, tx, b.Summaries); err != nil {
			return err
		}
		return updateSilences(ctx, tx, b.Silences)
	})
	if err == nil && b.Through > s.through.Load() {
		s.through.Store(b.Through) // only processing commits: no race to lose
	}
	return err
}

// writeWindows writes the decision states ws (keys distinct), deleting
// those without data. In a storm nearly every callback changes one.
func (s *Store) writeWindows(ctx context.Context, tx *sql.Tx, ws []Window) error {
	kept := make([]*Window, 0, len(ws))
	for i := range ws {
		if ws[i].Data != nil {
			kept = append(kept, &ws[i])
		} else if _, err := s.exec(ctx, tx, `DELETE FROM windows WHERE key = ?`, ws[i].Key); err != nil {
			return err
		}
	}
	return s.execRows(ctx, tx, qUpsertWindow, len(kept), func(dst []any, i int) []any {
		return append(dst, kept[i].Key, nanos(kept[i].KeepUntil), kept[i].Data)
	}, nil)
}

func (s *Store) insertNotifications(ctx context.Context, tx *sql.Tx, ns []Notification) error {
	if len(ns) == 0 {
		return nil
	}
	stmt, err := s.txStmt(ctx, tx, qInsertNotification)
	if err != nil {
		return err
	}
	for i := range ns {
		n := &ns[i]
		if n.State == "" {
			n.State = Pending
		}
		var ev any
		if n.EventID != 0 {
			ev = n.EventID
		}
		res, err := stmt.ExecContext(ctx, n.ID, n.Receiver, n.Rule, n.GroupKey, ev, nanos(n.CreatedAt), string(n.State), n.Data)
		if err != nil {
			return err
		}
		if n.Seq, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	return nil
}

// execChanged runs one statement in a write transaction of its own and
// returns how many rows it changed.
func (s *Store) execChanged(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := s.Err(); err != nil {
		return err
	}
	start := time.Now()
	conn, tx, err := s.begin(ctx, "NORMAL")
	if err != nil {
		return fmt.Errorf("store: begin: %w", s.observe(err))
	}
	defer conn.Close()
	defer func() { s.metrics.writeDuration.Observe(time.Since(start).Seconds()) }()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("store: %w", s.observe(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", s.observe(err))
	}
	s.wrote()
	s.walSize()
	return nil
}

// Windows returns every persisted decision state, most recently kept last.
func (s *Store) Windows(ctx context.Context) ([]Window, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, keep_until, data FROM windows`)
	if err != nil {
		return nil, fmt.Errorf("store: windows: %w", s.observe(err))
	}
	defer rows.Close()
	var out []Window
	for rows.Next() {
		var w Window
		var keep int64
		if err := rows.Scan(&w.Key, &keep, &w.Data); err != nil {
			return nil, fmt.Errorf("store: windows: %w", s.observe(err))
		}
		w.KeepUntil = fromNanos(keep)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: windows: %w", s.observe(err))
	}
	// Sorted here rather than by SQLite, which has no index on keep_until
	// (it would be rewritten with every window) and would sort the rows
	// with their data.
	slices.SortStableFunc(out, func(a, b Window) int { return a.KeepUntil.Compare(b.KeepUntil) })
	return out, nil
}

// Digests returns every persisted digest accumulator.
func (s *Store) Digests(ctx context.Context) ([]Digest, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT rule, data FROM digests ORDER BY rule`)
	if err != nil {
		return nil, fmt.Errorf("store: digests: %w", s.observe(err))
	}
	defer rows.Close()
	var out []Digest
	for rows.Next() {
		var d Digest
		if err := rows.Scan(&d.Rule, &d.Data); err != nil {
			return nil, fmt.Errorf("store: digests: %w", s.observe(err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: digests: %w", s.observe(err))
	}
	return out, nil
}

const notificationColumns = `n.seq, n.uid, n.receiver, n.rule, n.group_key, coalesce(n.event_id, 0), n.created_at,
	n.state, n.data, n.attempts, n.last_error, n.last_attempt_at, n.done_at, coalesce(n.merged_into, 0), n.ref`

func scanNotification(sc interface{ Scan(...any) error }, withEvent bool) (Notification, error) {
	var n Notification
	var created, lastAttempt, done int64
	var state string
	dest := []any{&n.Seq, &n.ID, &n.Receiver, &n.Rule, &n.GroupKey, &n.EventID, &created,
		&state, &n.Data, &n.Attempts, &n.LastError, &lastAttempt, &done, &n.MergedInto, &n.Ref}
	var evID, evAt sql.NullInt64
	var evQuery sql.NullString
	var evBody []byte
	if withEvent {
		dest = append(dest, &evID, &evAt, &evQuery, &evBody)
	}
	if err := sc.Scan(dest...); err != nil {
		return n, err
	}
	n.State = State(state)
	n.CreatedAt, n.LastAttemptAt, n.DoneAt = fromNanos(created), fromNanos(lastAttempt), fromNanos(done)
	if evID.Valid {
		n.Event = &Event{ID: evID.Int64}
		n.Event.Raw.ReceivedAt = fromNanos(evAt.Int64)
		n.Event.Raw.Query = evQuery.String
		n.Event.Raw.Body = evBody
	}
	return n, nil
}

func (s *Store) queryNotifications(ctx context.Context, withEvent bool, query string, args ...any) ([]Notification, error) {
	ctx = short(ctx)
	cols := notificationColumns
	from := "notifications n"
	if withEvent {
		cols += ", e.id, e.received_at, e.query, e.body"
		from += " LEFT JOIN events e ON e.id = n.event_id"
	}
	stmt, err := s.prepare(ctx, s.r, "SELECT "+cols+" FROM "+from+" "+query)
	if err != nil {
		return nil, fmt.Errorf("store: notifications: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("store: notifications: %w", s.observe(err))
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scanNotification(rows, withEvent)
		if err != nil {
			return nil, fmt.Errorf("store: notifications: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: notifications: %w", err)
	}
	return out, nil
}

// NextPending returns the oldest pending notification of receiver, with its
// event, or false when there is none.
func (s *Store) NextPending(ctx context.Context, receiver string) (Notification, bool, error) {
	ns, err := s.queryNotifications(ctx, true, `WHERE n.state = 'pending' AND n.receiver = ? ORDER BY n.seq LIMIT 1`, receiver)
	if err != nil || len(ns) == 0 {
		return Notification{}, false, err
	}
	return ns[0], true, nil
}

// PendingLike returns up to limit pending notifications of receiver for the
// given rule and group key, oldest first, with their events: the ones a
// delivery may merge into one message.
func (s *Store) PendingLike(ctx context.Context, receiver, rule, groupKey string, limit int) ([]Notification, error) {
	return s.queryNotifications(ctx, true, `WHERE n.state = 'pending' AND n.receiver = ? AND n.rule = ? AND n.group_key = ?
		ORDER BY n.seq LIMIT ?`, receiver, rule, groupKey, limit)
}

// Pending returns up to limit pending notifications of receiver, oldest
// first, without their events.
func (s *Store) Pending(ctx context.Context, receiver string, limit int) ([]Notification, error) {
	return s.queryNotifications(ctx, false, `WHERE n.state = 'pending' AND n.receiver = ? ORDER BY n.seq LIMIT ?`, receiver, limit)
}

// PendingCounts returns the number of pending notifications by receiver.
func (s *Store) PendingCounts(ctx context.Context) (map[string]int, error) {
	return s.counts(ctx, Pending)
}

func (s *Store) counts(ctx context.Context, st State) (map[string]int, error) {
	q := `SELECT receiver, count(*) FROM notifications WHERE state = ? GROUP BY receiver`
	if st == Pending {
		// The pending index holds the receiver: a storm's hundred
		// thousand pending pages are counted without reading one row.
		q = `SELECT receiver, count(*) FROM notifications INDEXED BY notifications_pending
			WHERE state = 'pending' AND state = ? GROUP BY receiver`
	}
	rows, err := s.r.QueryContext(ctx, q, string(st))
	if err != nil {
		return nil, fmt.Errorf("store: counts: %w", s.observe(err))
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			return nil, fmt.Errorf("store: counts: %w", s.observe(err))
		}
		out[r] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: counts: %w", s.observe(err))
	}
	return out, nil
}

// Attempt records a failed attempt at a notification that stays pending.
func (s *Store) Attempt(ctx context.Context, seq int64, at time.Time, errText string) error {
	ctx = short(ctx)
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, `UPDATE notifications SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?
			WHERE seq = ? AND state = 'pending'`, nanos(at), errText, seq)
		if err != nil {
			return err
		}
		return s.recordAttempt(ctx, tx, seq, at, errText)
	})
}

// Outcome is the end of one delivery: a notification, and the ones merged
// into it, sent or given up.
type Outcome struct {
	Seq    int64
	Merged []int64
	State  State // Sent or Dead
	At     time.Time
	Error  string // the last error, for Dead
	// Data replaces the notification's data: the merged content that was
	// sent or tried.
	Data []byte
	// Attempted counts this delivery's last attempt; false when the
	// notification was given up without one.
	Attempted bool
	// Ref is the destination's handle of the message sent. With Incident
	// set, it is remembered for later messages about the same incident.
	Ref      string
	Incident *Incident
}

// Finish records o in one transaction. Only pending rows change, so a
// notification finished twice keeps its first outcome.
func (s *Store) Finish(ctx context.Context, o Outcome) error {
	if o.State != Sent && o.State != Dead {
		return fmt.Errorf("store: finish: bad state %q", o.State)
	}
	ctx = short(ctx)
	return s.tx(ctx, func(tx *sql.Tx) error {
		inc := 0
		if o.Attempted {
			inc = 1
		}
		set := `state = ?, done_at = ?, attempts = attempts + ?, ref = ?, last_error = CASE WHEN ? = '' THEN last_error ELSE ? END`
		args := []any{string(o.State), nanos(o.At), inc, o.Ref, o.Error, o.Error}
		if o.Attempted {
			set += `, last_attempt_at = ?`
			args = append(args, nanos(o.At))
		}
		if o.Data != nil {
			set += `, data = ?`
			args = append(args, o.Data)
		}
		res, err := s.exec(ctx, tx, `UPDATE notifications SET `+set+` WHERE seq = ? AND state = 'pending'`, append(args, o.Seq)...) // one of four
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotPending
		}
		if o.Attempted {
			if err := s.recordAttempt(ctx, tx, o.Seq, o.At, o.Error); err != nil {
				return err
			}
		}
		if len(o.Merged) > 0 {
			q := `UPDATE notifications SET state = 'merged', done_at = ?, merged_into = ? WHERE state = 'pending' AND seq IN (` +
				placeholders(len(o.Merged)) + `)`
			args := []any{nanos(o.At), o.Seq}
			for _, m := range o.Merged {
				args = append(args, m)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		if o.Incident != nil && o.Ref != "" {
			i := o.Incident
			if _, err := s.exec(ctx, tx, `INSERT INTO incidents (receiver, rule, group_key, ref, opened_at, last_at)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (receiver, rule, group_key) DO UPDATE SET
				ref = excluded.ref, last_at = excluded.last_at,
				opened_at = CASE WHEN incidents.ref = excluded.ref THEN incidents.opened_at ELSE excluded.opened_at END`,
				i.Receiver, i.Rule, i.GroupKey, o.Ref, nanos(o.At), nanos(o.At)); err != nil {
				return err
			}
		}
		return nil
	})
}

// ErrNotPending is returned by Finish for a notification that is no longer
// pending.
var ErrNotPending = errors.New("notification is not pending")

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Reroute marks the pending notifications seqs as rerouted and inserts
// their replacements for another receiver, in one transaction. It returns
// the replacements with Seq set; a notification that was no longer pending
// gets no replacement.
func (s *Store) Reroute(ctx context.Context, at time.Time, seqs []int64, replacements []Notification) ([]Notification, error) {
	if len(seqs) != len(replacements) {
		return nil, errors.New("store: reroute: one replacement per notification")
	}
	var out []Notification
	err := s.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		for i, seq := range seqs {
			res, err := tx.ExecContext(ctx, `UPDATE notifications SET state = 'rerouted', done_at = ? WHERE seq = ? AND state = 'pending'`, nanos(at), seq)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				continue
			}
			out = append(out, replacements[i])
		}
		return s.insertNotifications(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Incident is the last message sent about one rule and group key to one
// receiver, for destinations that can thread or update messages.
type Incident struct {
	Receiver, Rule, GroupKey string
	Ref                      string
	Opened, Last             time.Time
}

// Incident returns the incident of receiver, rule and group key.
func (s *Store) Incident(ctx context.Context, receiver, rule, groupKey string) (Incident, bool, error) {
	i := Incident{Receiver: receiver, Rule: rule, GroupKey: groupKey}
	var opened, last int64
	err := s.r.QueryRowContext(ctx, `SELECT ref, opened_at, last_at FROM incidents WHERE receiver = ? AND rule = ? AND group_key = ?`,
		receiver, rule, groupKey).Scan(&i.Ref, &opened, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return i, false, nil
	}
	if err != nil {
		return i, false, fmt.Errorf("store: incident: %w", s.observe(err))
	}
	i.Opened, i.Last = fromNanos(opened), fromNanos(last)
	return i, true, nil
}

// Filter selects notifications for Deliveries.
type Filter struct {
	State    State  // empty: any
	Receiver string // empty: any
	Limit    int    // default 100
}

// Deliveries returns notifications matching f, newest first, without their
// events.
func (s *Store) Deliveries(ctx context.Context, f Filter) ([]Notification, error) {
	var where []string
	var args []any
	if f.State != "" {
		where = append(where, "n.state = ?")
		args = append(args, string(f.State))
	}
	if f.Receiver != "" {
		where = append(where, "n.receiver = ?")
		args = append(args, f.Receiver)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := ""
	if len(where) > 0 {
		q = "WHERE " + strings.Join(where, " AND ")
	}
	return s.queryNotifications(ctx, false, q+" ORDER BY n.seq DESC LIMIT ?", append(args, f.Limit)...)
}

// Requeue makes the dead letter with the given id pending again, as if
// created at at: its attempts and give-up deadline start over. It reports
// whether there was such a dead letter.
func (s *Store) Requeue(ctx context.Context, id string, at time.Time) (bool, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notifications SET state = 'pending', attempts = 0, done_at = 0,
			created_at = ? WHERE uid = ? AND state = 'dead'`, nanos(at), id)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n > 0, err
}
