package daemon

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/imalert/imalert/config"
)

func TestMemoryLimit(t *testing.T) {
	big := config.Default()
	big.Throttle.MaxKeys = 1_000_000
	big.Callback.DedupMaxKeys = 500_000
	for _, c := range []struct {
		name string
		cfg  *config.Config
		want int64
	}{
		{"defaults: 100,000 keys each", config.Default(), 56<<20 + 320*100_000 + 100*100_000},
		{"grows with the maps", big, 56<<20 + 320*1_000_000 + 100*500_000},
	} {
		if got := MemoryLimit(c.cfg); got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.name, got, c.want)
		}
	}
	if mib := MemoryLimit(config.Default()) >> 20; mib < 90 || mib > 110 {
		t.Errorf("default limit %d MiB: the 150 MiB RSS target needs 90 to 110", mib)
	}
}

func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()

	t.Setenv("GOMEMLIMIT", "123MiB")
	debug.SetMemoryLimit(123 << 20)
	setMemoryLimit(cfg, logger)
	if got := debug.SetMemoryLimit(-1); got != 123<<20 {
		t.Errorf("limit %d with GOMEMLIMIT set, want GOMEMLIMIT's %d", got, 123<<20)
	}

	t.Setenv("GOMEMLIMIT", "")
	setMemoryLimit(cfg, logger)
	if got := debug.SetMemoryLimit(-1); got != MemoryLimit(cfg) {
		t.Errorf("limit %d, want %d", got, MemoryLimit(cfg))
	}
}

func TestSetGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	setGCPercent(logger)
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("GOGC %d with GOGC=50 set, want 50", got)
	}

	t.Setenv("GOGC", "")
	setGCPercent(logger)
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GOGC %d, want %d", got, gcPercent)
	}
}
