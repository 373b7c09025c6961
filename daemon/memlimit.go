package daemon

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/server"
)

// The soft memory limit serve gives the Go runtime unless GOMEMLIMIT
// does. Without one, the heap may grow to twice what is live before a
// collection, and a storm of distinct groups fills both bounded maps: a
// limit sized to them keeps the process near what it needs. It grows
// with max_keys, so raising those never makes the collector thrash.
const (
	memoryBase       = 56 << 20 // everything but the two maps, with headroom
	memoryPerState   = 320      // a decision state key (223 bytes held), with headroom
	memoryPerDedupID = 100      // a de-duplication key (66 bytes held), with headroom
)

// MemoryLimit is the soft memory limit for cfg.
func MemoryLimit(cfg *config.Config) int64 {
	dedup := cfg.Callback.DedupMaxKeys
	if dedup <= 0 {
		dedup = server.DefaultDedupMaxKeys
	}
	return memoryBase + memoryPerState*int64(cfg.Throttle.MaxKeys) + memoryPerDedupID*int64(dedup)
}

// gcPercent is serve's GOGC: with the memory limit capping the heap, the
// collector may let it grow to three times what is live below that limit
// instead of twice. Each collection's mark phase takes a processor from
// the answers; at 2,000/s on 2 CPUs, half as many of them took p99 from
// 5.2–5.5 ms to 4.8 ms, and 20 µs of CPU off each callback.
const gcPercent = 200

// setGCPercent applies gcPercent, unless the GOGC environment variable
// sets one, and says which holds.
func setGCPercent(logger *slog.Logger) {
	if v := os.Getenv("GOGC"); v != "" {
		logger.Info("garbage collection", "gogc", v, "from", "GOGC")
		return
	}
	debug.SetGCPercent(gcPercent)
	logger.Info("garbage collection", "gogc", gcPercent, "from", "the memory limit caps the heap (GOGC overrides)")
}

// setMemoryLimit applies MemoryLimit(cfg) to the process, unless the
// GOMEMLIMIT environment variable sets one, and says which holds.
func setMemoryLimit(cfg *config.Config, logger *slog.Logger) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		logger.Info("memory limit", "limit", v, "from", "GOMEMLIMIT")
		return
	}
	limit := MemoryLimit(cfg)
	debug.SetMemoryLimit(limit)
	logger.Info("memory limit", "limit_mib", limit>>20, "from", "throttle.max_keys and callback.dedup_max_keys (GOMEMLIMIT overrides)")
}
