package state_test

import (
	"context"
	"fmt"
	"runtime"
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

// A key put again after go-cache let it expire takes one place, once: the
// expired entry leaves the eviction order with it.
func TestMemoryPutAfterExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		evictions := 0
		m := state.NewMemory(state.MemoryOptions{MaxKeys: 3, OnEvict: func() { evictions++ }})
		_ = m.Put(ctx, "a", state.Entry{KeepUntil: time.Now().Add(time.Minute)})
		time.Sleep(state.MinLife + time.Second) // expired, not yet swept
		want := state.Entry{State: state.KeyState{Suppressed: 7}, KeepUntil: time.Now().Add(time.Hour)}
		_ = m.Put(ctx, "a", want)
		for _, k := range []string{"b", "c", "d", "e"} {
			_ = m.Put(ctx, k, state.Entry{KeepUntil: time.Now().Add(time.Hour)})
		}
		if m.Len() != 3 || evictions != 2 {
			t.Fatalf("holds %d keys after %d evictions, want 3 after 2", m.Len(), evictions)
		}
		for k, held := range map[string]bool{"a": false, "b": false, "c": true, "e": true} {
			if _, ok, _ := m.Get(ctx, k); ok != held {
				t.Errorf("%s held = %v, want %v", k, ok, held)
			}
		}
	})
}

// BenchmarkMemoryHeld reports the heap held per key, with the default
// 100,000 throttle windows all held.
func BenchmarkMemoryHeld(b *testing.B) {
	ctx := context.Background()
	e := state.Entry{State: state.KeyState{Start: t0, End: t0.Add(5 * time.Minute), Window: 5 * time.Minute,
		Suppressed: 12, First: t0.Add(time.Second), Last: t0.Add(time.Minute)}, KeepUntil: t0.Add(10 * time.Minute)}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := state.NewMemory(state.MemoryOptions{})
		for i := range 100_000 {
			_ = m.Put(ctx, fmt.Sprintf("10023-storm\x00@TGS#%010d", i), e)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(m.Len()), "bytes/key")
		runtime.KeepAlive(m)
	}
}

// BenchmarkMemoryPutFull reports the cost of a decision on a new key when
// the store is full: a storm over more distinct keys than max_keys.
func BenchmarkMemoryPutFull(b *testing.B) {
	ctx := context.Background()
	e := state.Entry{State: state.KeyState{Start: t0, Window: 5 * time.Minute}, KeepUntil: t0.Add(10 * time.Minute)}
	m := state.NewMemory(state.MemoryOptions{})
	i := 0
	for ; i < 100_000; i++ {
		_ = m.Put(ctx, fmt.Sprintf("10023-storm\x00@TGS#%010d", i), e)
	}
	keys := make([]string, 1<<16)
	for j := range keys {
		keys[j] = fmt.Sprintf("10023-storm\x00@TGS#%010d", i+j)
	}
	j := 0
	for b.Loop() {
		_ = m.Put(ctx, keys[j%len(keys)], e)
		j++
	}
	if m.Len() != 100_000 {
		b.Fatalf("holds %d keys, want 100000", m.Len())
	}
}
