package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// The decision trace: one compact row per (journal entry, rule it
// matched), written in the batch commit that marks the entry processed,
// and one row per failed delivery attempt. A delivery's success is its
// notification's own row (sent, last_attempt_at), and the receiver's last
// success one row per receiver (delivered): an attempts row and its two
// indexes were a third of the pages every page delivered wrote. An entry
// that matched no rule writes nothing, so a storm of unmatched callbacks
// costs no extra write, and a matched one costs one short row in a
// transaction it already pays for.
const traceSchema = `
CREATE TABLE IF NOT EXISTS decisions (
	event_id INTEGER NOT NULL,
	rule     TEXT    NOT NULL,
	reason   TEXT    NOT NULL,
	data     BLOB    NOT NULL,
	PRIMARY KEY (event_id, rule)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS decisions_rule ON decisions(rule, event_id);

CREATE TABLE IF NOT EXISTS attempts (
	seq      INTEGER NOT NULL,
	at       INTEGER NOT NULL,
	receiver TEXT    NOT NULL,
	error    TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_seq ON attempts(seq);
CREATE INDEX IF NOT EXISTS attempts_receiver ON attempts(receiver, at);

CREATE TABLE IF NOT EXISTS delivered (
	receiver TEXT PRIMARY KEY,
	at       INTEGER NOT NULL
) WITHOUT ROWID;
`

// Decision is the trace of one rule an event matched. Data is the
// decider's own encoding of the verdict; Reason its label, kept as a
// column for counting.
type Decision struct {
	EventID int64
	Rule    string
	Reason  string
	Data    []byte
}

const qInsertDecision = `INSERT OR REPLACE INTO decisions (event_id, rule, reason, data) VALUES (?, ?, ?, ?)`

// insertDecisions writes ds inside tx.
func (s *Store) insertDecisions(ctx context.Context, tx *sql.Tx, ds []Decision) error {
	if len(ds) == 0 {
		return nil
	}
	return s.execRows(ctx, tx, qInsertDecision, len(ds), func(dst []any, i int) []any {
		d := &ds[i]
		return append(dst, d.EventID, d.Rule, d.Reason, d.Data)
	}, nil)
}

// recordAttempt notes one delivery attempt of notification seq; errText
// is empty for a success, which only moves its receiver's last success.
func (s *Store) recordAttempt(ctx context.Context, tx *sql.Tx, seq int64, at time.Time, errText string) error {
	if errText == "" {
		_, err := s.exec(ctx, tx, `INSERT INTO delivered (receiver, at)
			SELECT receiver, ? FROM notifications WHERE seq = ?
			ON CONFLICT (receiver) DO UPDATE SET at = max(at, excluded.at)`, nanos(at), seq)
		return err
	}
	_, err := s.exec(ctx, tx, `INSERT INTO attempts (seq, at, receiver, error)
		SELECT seq, ?, receiver, ? FROM notifications WHERE seq = ?`, nanos(at), errText, seq)
	return err
}

// TraceFilter selects journal entries for EventTrace.
type TraceFilter struct {
	Rule   string    // only entries that matched this rule
	Since  time.Time // received at or after
	Before int64     // ids below it; 0: no bound
	Limit  int       // default 50
}

// EventsNewest returns up to f.Limit journal entries, newest first.
func (s *Store) EventsNewest(ctx context.Context, f TraceFilter) ([]Event, error) {
	_ = s.settle()
	if f.Limit <= 0 {
		f.Limit = 50
	}
	where := []string{"e.received_at >= ?"}
	args := []any{nanos(f.Since)}
	if f.Before > 0 {
		where = append(where, "e.id < ?")
		args = append(args, f.Before)
	}
	if f.Rule != "" {
		where = append(where, "e.id IN (SELECT event_id FROM decisions WHERE rule = ?)")
		args = append(args, f.Rule)
	}
	q := `SELECT e.id, e.received_at, e.query, e.body, CASE WHEN e.id <= p.through THEN p.processed_at END
		FROM events e, progress p WHERE p.id = 1 AND ` +
		strings.Join(where, " AND ") + ` ORDER BY e.id DESC LIMIT ?`
	rows, err := s.r.QueryContext(ctx, q, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		var processed sql.NullInt64
		if err := rows.Scan(&e.ID, &at, &e.Raw.Query, &e.Raw.Body, &processed); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		e.Raw.ReceivedAt = fromNanos(at)
		e.ProcessedAt = fromNanos(processed.Int64)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return out, nil
}

// Decisions returns the decisions recorded for the journal entries ids,
// by entry.
func (s *Store) Decisions(ctx context.Context, ids []int64) (map[int64][]Decision, error) {
	out := map[int64][]Decision{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.r.QueryContext(ctx, `SELECT event_id, rule, reason, data FROM decisions WHERE event_id IN (`+
		placeholders(len(ids))+`) ORDER BY event_id, rule`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: decisions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d Decision
		if err := rows.Scan(&d.EventID, &d.Rule, &d.Reason, &d.Data); err != nil {
			return nil, fmt.Errorf("store: decisions: %w", err)
		}
		out[d.EventID] = append(out[d.EventID], d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: decisions: %w", err)
	}
	return out, nil
}

// EventNotifications returns the notifications made for the journal
// entries ids, oldest first, by entry.
func (s *Store) EventNotifications(ctx context.Context, ids []int64) (map[int64][]Notification, error) {
	out := map[int64][]Notification{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	ns, err := s.queryNotifications(ctx, true, `WHERE n.event_id IN (`+placeholders(len(ids))+`) ORDER BY n.seq`, args...)
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		out[n.EventID] = append(out[n.EventID], n)
	}
	return out, nil
}

// AttemptRecord is one delivery attempt of a notification.
type AttemptRecord struct {
	At    time.Time
	Error string // empty: delivered
}

// Attempts returns the attempts of the notifications seqs, oldest first,
// by seq: the failures recorded, then the success of one sent.
func (s *Store) Attempts(ctx context.Context, seqs []int64) (map[int64][]AttemptRecord, error) {
	out := map[int64][]AttemptRecord{}
	if len(seqs) == 0 {
		return out, nil
	}
	args := make([]any, len(seqs))
	for i, id := range seqs {
		args[i] = id
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, at, error FROM attempts WHERE seq IN (`+
		placeholders(len(seqs))+`) ORDER BY seq, at, rowid`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq, at int64
		var a AttemptRecord
		if err := rows.Scan(&seq, &at, &a.Error); err != nil {
			return nil, fmt.Errorf("store: attempts: %w", err)
		}
		a.At = fromNanos(at)
		out[seq] = append(out[seq], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	// A sent notification's delivery, unless recorded as an attempt (as
	// before the delivered table).
	sent, err := s.r.QueryContext(ctx, `SELECT seq, last_attempt_at FROM notifications
		WHERE state = 'sent' AND attempts > 0 AND seq IN (`+placeholders(len(seqs))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	defer sent.Close()
	for sent.Next() {
		var seq, at int64
		if err := sent.Scan(&seq, &at); err != nil {
			return nil, fmt.Errorf("store: attempts: %w", err)
		}
		if as := out[seq]; len(as) == 0 || as[len(as)-1].Error != "" {
			out[seq] = append(as, AttemptRecord{At: fromNanos(at)})
		}
	}
	if err := sent.Err(); err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	return out, nil
}

// ReceiverHealth is what the attempts say about one receiver.
type ReceiverHealth struct {
	Receiver     string
	LastSuccess  time.Time // zero: none recorded
	FailingSince time.Time // first failure after the last success; zero: not failing
	LastError    string
}

// ReceiversHealth returns the health of every receiver with a recorded
// attempt, by name.
func (s *Store) ReceiversHealth(ctx context.Context) ([]ReceiverHealth, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT r.receiver, r.ok,
		coalesce((SELECT min(at) FROM attempts a WHERE a.receiver = r.receiver AND a.error <> '' AND a.at > r.ok), 0),
		coalesce((SELECT error FROM attempts a WHERE a.receiver = r.receiver AND a.error <> '' AND a.at > r.ok ORDER BY at DESC LIMIT 1), '')
		FROM (SELECT receiver, max(ok) AS ok FROM (
			SELECT receiver, coalesce(max(CASE WHEN error = '' THEN at END), 0) AS ok FROM attempts GROUP BY receiver
			UNION ALL SELECT receiver, at FROM delivered) GROUP BY receiver) r
		ORDER BY r.receiver`)
	if err != nil {
		return nil, fmt.Errorf("store: receiver health: %w", err)
	}
	defer rows.Close()
	var out []ReceiverHealth
	for rows.Next() {
		var h ReceiverHealth
		var ok, failing int64
		if err := rows.Scan(&h.Receiver, &ok, &failing, &h.LastError); err != nil {
			return nil, fmt.Errorf("store: receiver health: %w", err)
		}
		h.LastSuccess, h.FailingSince = fromNanos(ok), fromNanos(failing)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: receiver health: %w", err)
	}
	return out, nil
}

// LastReceived returns when the newest journal entry was received; zero
// for an empty journal.
func (s *Store) LastReceived(ctx context.Context) (time.Time, error) {
	_ = s.settle()
	var at sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT max(received_at) FROM events`).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("store: last received: %w", err)
	}
	return fromNanos(at.Int64), nil
}

// DecisionCounts returns, per rule and reason, the decisions recorded for
// entries received at or after since.
func (s *Store) DecisionCounts(ctx context.Context, since time.Time) (map[string]map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT rule, reason, count(*) FROM decisions
		WHERE event_id >= coalesce((SELECT min(id) FROM events WHERE received_at >= ?), (SELECT coalesce(max(id), 0) + 1 FROM events))
		GROUP BY rule, reason`, nanos(since))
	if err != nil {
		return nil, fmt.Errorf("store: decision counts: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var rule, reason string
		var n int
		if err := rows.Scan(&rule, &reason, &n); err != nil {
			return nil, fmt.Errorf("store: decision counts: %w", err)
		}
		if out[rule] == nil {
			out[rule] = map[string]int{}
		}
		out[rule][reason] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: decision counts: %w", err)
	}
	return out, nil
}

// ActiveWindows returns up to limit decision states kept after from and
// until to at the latest, the soonest kept first. A window's state is kept
// until its end, or a day past it when it carries a count: bounding to
// leaves out first-seen marks, kept for a year.
func (s *Store) ActiveWindows(ctx context.Context, from, to time.Time, limit int) ([]Window, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, keep_until, data FROM windows WHERE keep_until > ? AND keep_until <= ?
		ORDER BY keep_until LIMIT ?`, nanos(from), nanos(to), limit)
	if err != nil {
		return nil, fmt.Errorf("store: windows: %w", err)
	}
	defer rows.Close()
	var out []Window
	for rows.Next() {
		var w Window
		var keep int64
		if err := rows.Scan(&w.Key, &keep, &w.Data); err != nil {
			return nil, fmt.Errorf("store: windows: %w", err)
		}
		w.KeepUntil = fromNanos(keep)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: windows: %w", err)
	}
	return out, nil
}

// sweepTrace deletes the decisions of journal entries received before
// before, and the attempts of notifications no longer kept.
func (s *Store) sweepTrace(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	queries := []struct {
		q    string
		args []any
	}{
		{`DELETE FROM decisions WHERE (event_id, rule) IN (SELECT event_id, rule FROM decisions WHERE event_id <
			coalesce((SELECT min(id) FROM events WHERE received_at >= ?), (SELECT coalesce(max(id), 0) + 1 FROM events)) LIMIT ?)`,
			[]any{nanos(before), sweepChunk}},
		{`DELETE FROM attempts WHERE rowid IN (SELECT rowid FROM attempts a
			WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.seq = a.seq) LIMIT ?)`, []any{sweepChunk}},
		// A receiver that delivered nothing for the whole retention (one
		// removed from the configuration) leaves the health page.
		{`DELETE FROM delivered WHERE at < ?`, []any{nanos(before)}},
	}
	for _, q := range queries {
		for {
			n, err := s.execChanged(ctx, q.q, q.args...)
			if err != nil {
				return total, err
			}
			total += n
			if n < sweepChunk {
				break
			}
		}
	}
	return total, nil
}
