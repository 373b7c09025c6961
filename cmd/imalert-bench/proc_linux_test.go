package main

import (
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// readProc counts this process's CPU and its threads' switches: a
// goroutine that sleeps gives up its thread's CPU each time.
func TestReadProc(t *testing.T) {
	// The switches of this thread: another thread of the test binary may
	// end meanwhile (TestSchedule's), taking its count out of the sum.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := strconv.Itoa(syscall.Gettid())
	before, err := taskSwitches(os.Getpid(), tid)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		time.Sleep(time.Millisecond)
	}
	after, err := taskSwitches(os.Getpid(), tid)
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 20 {
		t.Errorf("%d switches over 20 sleeps", d)
	}
	ps, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if ps.Switches < after || ps.RSS <= 0 || ps.HWM < ps.RSS {
		t.Errorf("switches %d (this thread's %d), RSS %d, peak %d", ps.Switches, after, ps.RSS, ps.HWM)
	}
}
