package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// silencesSchema is the silences table: what a silence is (Spec, written
// once by the API) and what it held (Stats, written with the processing
// batch that counted the events) are opaque to the store.
const silencesSchema = `
CREATE TABLE IF NOT EXISTS silences (
	id         TEXT PRIMARY KEY,
	created_at INTEGER NOT NULL,
	starts_at  INTEGER NOT NULL,
	ends_at    INTEGER NOT NULL,
	spec       BLOB    NOT NULL,
	stats      BLOB,
	noticed    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
`

// Silence is one silences row.
type Silence struct {
	ID        string
	CreatedAt time.Time
	StartsAt  time.Time
	EndsAt    time.Time
	Spec      []byte // the silence's own encoding: matchers, author, comment
	Stats     []byte // what it held so far; nil: nothing yet
	// Noticed is set once the silence's end has been dealt with (its
	// "silence ended" pages written to the outbox).
	Noticed bool
}

// SilenceUpdate is what a processing batch changes in one silence: its
// stats, and whether its end has now been noticed.
type SilenceUpdate struct {
	ID      string
	Stats   []byte // nil: unchanged
	Noticed bool
}

// ErrNoSilence is returned for an unknown silence ID.
var ErrNoSilence = errors.New("store: no such silence")

// AddSilence inserts a new silence.
func (s *Store) AddSilence(ctx context.Context, si Silence) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO silences (id, created_at, starts_at, ends_at, spec) VALUES (?, ?, ?, ?, ?)`,
			si.ID, nanos(si.CreatedAt), nanos(si.StartsAt), nanos(si.EndsAt), si.Spec)
		return err
	})
}

// ExpireSilence ends the silence id at at, unless it ended earlier; a
// silence not yet started then never starts. It returns ErrNoSilence for an
// unknown id.
func (s *Store) ExpireSilence(ctx context.Context, id string, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE silences SET ends_at = MIN(ends_at, ?1), starts_at = MIN(starts_at, ?1) WHERE id = ?2`, nanos(at), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNoSilence
		}
		return nil
	})
}

// Silences returns every silence that ended at or after since, or whose
// end is not yet noticed, oldest first.
func (s *Store) Silences(ctx context.Context, since time.Time) ([]Silence, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, created_at, starts_at, ends_at, spec, stats, noticed FROM silences
		WHERE ends_at >= ? OR noticed = 0 ORDER BY created_at, id`, nanos(since))
	if err != nil {
		return nil, fmt.Errorf("store: silences: %w", err)
	}
	defer rows.Close()
	var out []Silence
	for rows.Next() {
		var si Silence
		var created, starts, ends int64
		if err := rows.Scan(&si.ID, &created, &starts, &ends, &si.Spec, &si.Stats, &si.Noticed); err != nil {
			return nil, fmt.Errorf("store: silences: %w", err)
		}
		si.CreatedAt, si.StartsAt, si.EndsAt = fromNanos(created), fromNanos(starts), fromNanos(ends)
		out = append(out, si)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: silences: %w", err)
	}
	return out, nil
}

// updateSilences writes a batch's silence updates inside its transaction.
func updateSilences(ctx context.Context, tx *sql.Tx, us []SilenceUpdate) error {
	for _, u := range us {
		var err error
		switch {
		case u.Stats != nil:
			_, err = tx.ExecContext(ctx, `UPDATE silences SET stats = ?, noticed = MAX(noticed, ?) WHERE id = ?`, u.Stats, u.Noticed, u.ID)
		case u.Noticed:
			_, err = tx.ExecContext(ctx, `UPDATE silences SET noticed = 1 WHERE id = ?`, u.ID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
