package store

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// datasync flushes f's data (not its times) to the disk: the log never
// changes size, so this is all a commit needs.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// dropCache drops f's cached pages, starting their write-back if dirty.
// The log is never read while open, and a cached page can be part of a
// large folio: the kernel then writes the whole folio (up to megabytes)
// when a later commit dirties 4 KiB of it. Written pages kept out of the
// cache are written as they are.
func dropCache(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
