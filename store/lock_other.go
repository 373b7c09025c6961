//go:build !unix

package store

import "os"

// LockName is the lock file serve holds in data_dir.
const LockName = "imalert.lock"

// lockDir is a no-op where flock is not available.
func lockDir(string) (*os.File, error) { return nil, nil }
