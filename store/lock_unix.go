//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on the database file itself, so that
// two daemons never process the same journal: no separate lock file that
// could be deleted while held. The lock goes with the process, kill -9
// included. flock(2) locks are apart from the fcntl(2) locks SQLite takes
// on the same file, so the two do not interfere; the descriptor stays open
// until the database is closed, because closing any descriptor of a file
// drops the process's fcntl locks on it.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store: %s is in use by another imalert", path)
		}
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	return f, nil
}
