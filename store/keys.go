package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
)

// keysSchema holds the server's secret keys, each generated once and kept
// for the life of the data directory (so that links signed before a
// restart still verify after it).
const keysSchema = `
CREATE TABLE IF NOT EXISTS keys (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
`

// keySize is the length of a generated key in bytes.
const keySize = 32

// Key returns the secret key called name, generating and storing a random
// one the first time it is asked for.
func (s *Store) Key(ctx context.Context, name string) ([]byte, error) {
	var key []byte
	err := s.r.QueryRowContext(ctx, `SELECT value FROM keys WHERE name = ?`, name).Scan(&key)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: key: %w", err)
	}
	fresh := make([]byte, keySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("store: key: %w", err)
	}
	// Two first callers race: the first insert wins, and both read it.
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO keys (name, value) VALUES (?, ?)`, name, fresh); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM keys WHERE name = ?`, name).Scan(&key)
	})
	if err != nil {
		return nil, fmt.Errorf("store: key: %w", err)
	}
	return key, nil
}
