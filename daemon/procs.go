package daemon

import (
	"log/slog"
	"os"
	"runtime"
)

// setProcs gives the Go runtime twice as many processors as it found
// (CPUs, or the container's CPU limit), unless GOMAXPROCS says otherwise.
// With one processor per CPU, a batch of processing (tens of
// milliseconds of CPU in a storm) and a collection can hold every
// processor while callbacks wait to be read and answered: at 2,000/s on
// 2 CPUs the slowest 1% of answers took 7.5 to 10 ms. With more
// processors than CPUs the callbacks' goroutines get threads of their
// own, and the kernel runs them before the processing thread, whose
// priority is lower (inBackground): 5.3 to 6.5 ms.
func setProcs(logger *slog.Logger) {
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		logger.Info("processors", "gomaxprocs", runtime.GOMAXPROCS(0), "from", "GOMAXPROCS")
		return
	}
	n := 2 * runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(n)
	logger.Info("processors", "gomaxprocs", n, "from", "twice the CPUs (GOMAXPROCS overrides)")
}
