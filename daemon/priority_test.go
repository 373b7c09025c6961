//go:build linux

package daemon

import (
	"syscall"
	"testing"
)

// The processing thread runs at a lower priority; the goroutine keeps its
// thread, so the priority stays with the work.
func TestInBackground(t *testing.T) {
	got := make(chan int, 1)
	go func() {
		inBackground()
		prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
		if err != nil {
			t.Error(err)
		}
		got <- prio
	}()
	// The raw getpriority system call answers 20 - nice.
	if prio := <-got; 20-prio != backgroundNice {
		t.Errorf("nice %d, want %d", 20-prio, backgroundNice)
	}
}
