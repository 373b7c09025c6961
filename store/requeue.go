package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// RequeueWith is Requeue, and also replaces the notification's data with
// what update returns given the time it was created (first due) and its
// data: the caller can keep the first due time where it keeps the rest.
func (s *Store) RequeueWith(ctx context.Context, id string, at time.Time, update func(created time.Time, data []byte) []byte) (bool, error) {
	found := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var created int64
		var data []byte
		err := tx.QueryRowContext(ctx, `SELECT created_at, data FROM notifications WHERE uid = ? AND state = 'dead'`, id).Scan(&created, &data)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		_, err = tx.ExecContext(ctx, `UPDATE notifications SET state = 'pending', attempts = 0, done_at = 0,
			created_at = ?, data = ? WHERE uid = ? AND state = 'dead'`, nanos(at), update(fromNanos(created), data), id)
		return err
	})
	return found, err
}
