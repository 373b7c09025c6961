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
