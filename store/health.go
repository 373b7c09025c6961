package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrBroken is wrapped by every error of a store that can no longer be
// trusted: its database failed an integrity check, reported corruption, or
// its files were deleted or replaced while it was open. A broken store
// refuses every write until the daemon is restarted on a sound database;
// Err reports why.
var ErrBroken = errors.New("store: broken")

// Err returns nil while the store is sound, and the reason (wrapping
// ErrBroken) once it is broken. A failure that may pass, such as a full
// disk, fails the writes it hits but does not break the store.
func (s *Store) Err() error {
	if p := s.broken.Load(); p != nil {
		return *p
	}
	return nil
}

// fail breaks the store for reason, once; the first reason is kept.
func (s *Store) fail(reason string) error {
	err := fmt.Errorf("%w: %s", ErrBroken, reason)
	if s.broken.CompareAndSwap(nil, &err) {
		s.metrics.broken.Set(1)
		s.logger.Error("store broken: refusing writes until restarted on a sound database", "path", s.path, "err", err)
		return err
	}
	return *s.broken.Load()
}

// observe breaks the store when err says the database is damaged, and
// returns err. Every other error is left to its caller.
func (s *Store) observe(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			s.fail(err.Error())
		}
	}
	return err
}

// fileIDs are the identities of the database file and its write-ahead log
// as opened, so that a file deleted or replaced under the daemon is seen.
type fileIDs struct {
	db, wal os.FileInfo
}

func (s *Store) identify() error {
	db, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	wal, err := os.Stat(s.path + "-wal")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.files = &fileIDs{db: db, wal: wal}
	return nil
}

// checkFiles breaks the store if its database file or write-ahead log is
// no longer the file opened: SQLite would go on writing into a deleted
// file, and what it acknowledged would be gone at the next start. Two
// stat calls: cheap enough to run before every journal acknowledgement.
// It also tells the checkpointer when the write-ahead log is long.
func (s *Store) checkFiles() error {
	if err := s.Err(); err != nil {
		return err
	}
	if s.files == nil {
		return nil
	}
	var wal os.FileInfo
	for _, f := range []struct {
		path string
		id   os.FileInfo
	}{{s.path, s.files.db}, {s.path + "-wal", s.files.wal}} {
		fi, err := os.Stat(f.path)
		if err != nil || !os.SameFile(fi, f.id) {
			return s.fail(f.path + " was deleted or replaced while open")
		}
		wal = fi
	}
	s.noteWAL(wal.Size())
	if s.walPast(wal.Size(), s.walCeiling/4) {
		select {
		case s.urgent <- struct{}{}:
		default:
		}
	}
	return nil
}

// DefaultCheckBeforeOpenBytes bounds the database size that is checked
// before Open returns. quick_check reads every page (a few seconds per
// GiB): past this size it would hold up the start, so it runs in the
// background instead and breaks the store if it fails.
const DefaultCheckBeforeOpenBytes = 64 << 20

// quickCheck runs SQLite's quick_check (every page and index entry is
// read; a few seconds per GiB) and reports the first problems found.
func (s *Store) quickCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return fmt.Errorf("store: %s fails its integrity check: %w", s.path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("store: %s fails its integrity check: %w", s.path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: %s fails its integrity check: %w", s.path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("store: %s fails its integrity check: %s", s.path, strings.Join(problems, "; "))
	}
	return nil
}
