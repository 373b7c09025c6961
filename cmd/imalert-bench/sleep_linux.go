//go:build linux

package main

import (
	"time"

	"golang.org/x/sys/unix"
)

// sleepUntil sleeps until t with nanosleep, blocking its thread: the
// kernel wakes it within tens of microseconds.
func sleepUntil(t time.Time) {
	for {
		d := time.Until(t)
		if d <= 0 {
			return
		}
		ts := unix.NsecToTimespec(int64(d))
		if err := unix.Nanosleep(&ts, nil); err == nil {
			return
		}
		// EINTR (a signal for the runtime): sleep what is left.
	}
}
