package daemon

import (
	"io"
	"log/slog"
	"runtime"
	"testing"
)

func TestSetProcs(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Setenv("GOMAXPROCS", "3")
	runtime.GOMAXPROCS(3)
	setProcs(logger)
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Errorf("%d processors with GOMAXPROCS=3", got)
	}

	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(2)
	setProcs(logger)
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("%d processors from 2, want 4", got)
	}
}
