package daemon

import (
	"runtime"
	"syscall"
)

// backgroundNice is the nice value of the threads doing the work behind
// the answers (processing, checkpoints): when the CPU is short, the
// kernel runs the threads answering IM first. Processing is asynchronous
// and its lag is watched; an answer later than 2 s is an alert lost.
const backgroundNice = 5

// inBackground locks the calling goroutine to its thread and lowers that
// thread's priority. The thread ends with the goroutine.
func inBackground() {
	runtime.LockOSThread()
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), backgroundNice)
}
