package state_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/alert/state/statetest"
)

func TestMemory(t *testing.T) {
	statetest.Run(t, func(t *testing.T) state.Store { return state.NewMemory(state.MemoryOptions{}) })
}

var t0 = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

// Past max_keys the least recently put keys go, each counted.
func TestMemoryMaxKeys(t *testing.T) {
	ctx := context.Background()
	evictions := 0
	m := state.NewMemory(state.MemoryOptions{MaxKeys: 100, OnEvict: func() { evictions++ }})
	e := state.Entry{KeepUntil: t0.Add(time.Hour)}
	for i := range 250 {
		if err := m.Put(ctx, fmt.Sprint("key-", i), e); err != nil {
			t.Fatal(err)
		}
		if i == 120 { // key-0 put again: now among the most recent
			_ = m.Put(ctx, "key-0", e)
		}
	}
	if m.Len() != 100 || evictions != 151 {
		t.Errorf("holds %d keys after %d evictions, want 100 after 151", m.Len(), evictions)
	}
	for k, want := range map[string]bool{"key-249": true, "key-0": false, "key-1": false, "key-150": true} {
		if _, ok, _ := m.Get(ctx, k); ok != want {
			t.Errorf("%s held = %v, want %v", k, ok, want)
		}
	}
}

// Entries past their keep time on the wall clock are reclaimed before
// anything live is evicted, and are not counted as evictions.
func TestMemoryReclaimsExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		evictions := 0
		m := state.NewMemory(state.MemoryOptions{MaxKeys: 10, OnEvict: func() { evictions++ }})
		for i := range 10 {
			_ = m.Put(ctx, fmt.Sprint("old-", i), state.Entry{KeepUntil: time.Now().Add(time.Minute)})
		}
		time.Sleep(state.MinLife + time.Minute)
		for i := range 10 {
			_ = m.Put(ctx, fmt.Sprint("new-", i), state.Entry{KeepUntil: time.Now().Add(time.Hour)})
		}
		if m.Len() != 10 || evictions != 0 {
			t.Errorf("holds %d keys after %d evictions, want 10 after 0", m.Len(), evictions)
		}
		if _, ok, _ := m.Get(ctx, "new-0"); !ok {
			t.Error("a live key was evicted")
		}
	})
}
