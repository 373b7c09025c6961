package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// summariesSchema is the index of throttle windows that held events back:
// when each ends, a quiet summary may be due. It is written with the batch
// that decided the window's first held-back event, so it is exactly as
// durable as the window itself.
const summariesSchema = `
CREATE TABLE IF NOT EXISTS summaries (
	key  TEXT PRIMARY KEY,
	due  INTEGER NOT NULL,
	data BLOB    NOT NULL
) WITHOUT ROWID;
`

// Summary is one due quiet summary: the decision-state key of a window,
// when the window ends, and the decider's own data. Delete removes it.
type Summary struct {
	Key    string
	Due    time.Time
	Data   []byte
	Delete bool
}

// Summaries returns every due summary, earliest first.
func (s *Store) Summaries(ctx context.Context) ([]Summary, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, due, data FROM summaries ORDER BY due`)
	if err != nil {
		return nil, fmt.Errorf("store: summaries: %w", err)
	}
	defer rows.Close()
	var out []Summary
	for rows.Next() {
		var su Summary
		var due int64
		if err := rows.Scan(&su.Key, &due, &su.Data); err != nil {
			return nil, fmt.Errorf("store: summaries: %w", err)
		}
		su.Due = fromNanos(due)
		out = append(out, su)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: summaries: %w", err)
	}
	return out, nil
}

// updateSummaries writes a batch's due summaries inside its transaction.
func (s *Store) updateSummaries(ctx context.Context, tx *sql.Tx, ss []Summary) error {
	for _, su := range ss {
		var err error
		if su.Delete {
			_, err = s.exec(ctx, tx, `DELETE FROM summaries WHERE key = ?`, su.Key)
		} else {
			_, err = s.exec(ctx, tx, `INSERT INTO summaries (key, due, data) VALUES (?, ?, ?)
				ON CONFLICT (key) DO UPDATE SET due = excluded.due, data = excluded.data`, su.Key, nanos(su.Due), su.Data)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
