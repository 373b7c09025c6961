package redisstate

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/alert/state/statetest"
	"github.com/imalert/imalert/internal/testutil"
)

// newClient connects to srv; each test gets its own key prefix, so tests
// share one server without seeing each other's keys.
func newClient(t testing.TB, srv *testutil.RedisServer) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestStoreBehaviour(t *testing.T) {
	srv := testutil.StartRedis(t)
	rdb := newClient(t, srv)
	statetest.Run(t, func(t *testing.T) state.Store { return NewRedis(rdb, t.Name()+":") })
}

var t0 = time.Date(2226, 11, 25, 14, 0, 0, 0, time.UTC)

func entry(suppressed int) state.Entry {
	return state.Entry{State: state.KeyState{Start: t0, End: t0.Add(time.Minute), Window: time.Minute, Suppressed: suppressed}, KeepUntil: t0.Add(time.Hour)}
}

// A claim writes every key or none: a key written since it was read
// fails the whole claim.
func TestClaimAllOrNone(t *testing.T) {
	ctx := context.Background()
	s := NewRedis(newClient(t, testutil.StartRedis(t)), "p:")
	if err := s.Put(ctx, "b", entry(1)); err != nil {
		t.Fatal(err)
	}
	_, _, vb, err := s.Load(ctx, "b")
	if err != nil || vb == 0 {
		t.Fatalf("Load(b) = version %d, %v", vb, err)
	}
	if err := s.Put(ctx, "b", entry(2)); err != nil { // another replica
		t.Fatal(err)
	}
	_, err = s.Claim(ctx, []state.Change{{Key: "a", Entry: entry(7)}, {Key: "b", Read: vb, Entry: entry(7)}})
	if !errors.Is(err, state.ErrConflict) {
		t.Fatalf("Claim over a moved key: %v, want ErrConflict", err)
	}
	if _, ok, _ := s.Get(ctx, "a"); ok {
		t.Error("a conflicting claim wrote a key")
	}
	_, _, vb, _ = s.Load(ctx, "b")
	wrote, err := s.Claim(ctx, []state.Change{{Key: "a", Entry: entry(7)}, {Key: "b", Read: vb, Entry: entry(7)}})
	if err != nil || len(wrote) != 2 || wrote[0] != 1 || wrote[1] != vb+1 {
		t.Fatalf("Claim = %v, %v; want versions [1 %d]", wrote, err, vb+1)
	}
	for _, k := range []string{"a", "b"} {
		if e, _, _ := s.Get(ctx, k); e.State.Suppressed != 7 {
			t.Errorf("%s after claim: suppressed %d, want 7", k, e.State.Suppressed)
		}
	}
}

// Of many replicas claiming the same fresh key, exactly one wins; the
// others see a conflict.
func TestClaimOneWinner(t *testing.T) {
	ctx := context.Background()
	s := NewRedis(newClient(t, testutil.StartRedis(t)), "p:")
	var mu sync.Mutex
	wins, conflicts := 0, 0
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := s.Claim(ctx, []state.Change{{Key: "k", Entry: entry(0)}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, state.ErrConflict):
				conflicts++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || conflicts != 19 {
		t.Errorf("wins %d, conflicts %d; want 1 and 19", wins, conflicts)
	}
}

// Release puts back what was read where the claim is still the latest
// write, and leaves keys another replica wrote since.
func TestRelease(t *testing.T) {
	ctx := context.Background()
	s := NewRedis(newClient(t, testutil.StartRedis(t)), "p:")
	old := entry(3)
	if err := s.Put(ctx, "kept", old); err != nil {
		t.Fatal(err)
	}
	_, _, v, _ := s.Load(ctx, "kept")
	cs := []state.Change{
		{Key: "kept", Read: v, Old: &old, Entry: entry(4)},
		{Key: "fresh", Entry: entry(1)},
		{Key: "moved", Entry: entry(1)},
	}
	wrote, err := s.Claim(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "moved", entry(9)); err != nil { // another replica builds on the claim
		t.Fatal(err)
	}
	n, err := s.Release(ctx, cs, wrote)
	if err != nil || n != 1 {
		t.Fatalf("Release = %d, %v; want 1 key moved on", n, err)
	}
	if e, _, v2, _ := s.Load(ctx, "kept"); e.State.Suppressed != 3 || v2 <= wrote[0] {
		t.Errorf("kept after release: suppressed %d version %d; want 3, a version past %d", e.State.Suppressed, v2, wrote[0])
	}
	if _, ok, _ := s.Get(ctx, "fresh"); ok {
		t.Error("a key absent before the claim is still there")
	}
	if e, _, _ := s.Get(ctx, "moved"); e.State.Suppressed != 9 {
		t.Errorf("moved: suppressed %d, want 9 (left as written)", e.State.Suppressed)
	}
}

// An entry that cannot be read counts as absent, and the next claim
// replaces it.
func TestUnreadableEntryIsReplaced(t *testing.T) {
	ctx := context.Background()
	rdb := newClient(t, testutil.StartRedis(t))
	s := NewRedis(rdb, "p:")
	if err := rdb.HSet(ctx, "p:s:k", "v", 4, "d", "\x02garbage").Err(); err != nil {
		t.Fatal(err)
	}
	_, ok, v, err := s.Load(ctx, "k")
	if ok || v != 4 || err != nil {
		t.Fatalf("Load = ok %v, version %d, %v; want absent at version 4", ok, v, err)
	}
	if _, err := s.Claim(ctx, []state.Change{{Key: "k", Read: v, Entry: entry(1)}}); err != nil {
		t.Fatal(err)
	}
	if e, ok, _ := s.Get(ctx, "k"); !ok || e.State.Suppressed != 1 {
		t.Errorf("after the claim: %+v, %v", e, ok)
	}
}

// Opaque data (an open digest) is claimed and released like an entry;
// closing it keeps its version growing, so a replica that read it open
// cannot write it back over a digest opened since.
func TestRawData(t *testing.T) {
	ctx := context.Background()
	s := NewRedis(newClient(t, testutil.StartRedis(t)), "p:")
	wrote, err := s.Claim(ctx, []state.Change{{Key: "d", Raw: []byte(`{"a":1}`)}})
	if err != nil {
		t.Fatal(err)
	}
	data, v, err := s.LoadRaw(ctx, "d")
	if string(data) != `{"a":1}` || v != wrote[0] || err != nil {
		t.Fatalf("LoadRaw = %q, %d, %v", data, v, err)
	}
	closed, err := s.Claim(ctx, []state.Change{{Key: "d", Read: v, OldRaw: data, Raw: []byte{}}})
	if err != nil {
		t.Fatal(err)
	}
	if data, v2, _ := s.LoadRaw(ctx, "d"); data != nil || v2 <= v {
		t.Fatalf("after closing: %q at version %d; want none, past %d", data, v2, v)
	}
	if _, err := s.Claim(ctx, []state.Change{{Key: "d", Read: v, Raw: []byte(`{"a":2}`)}}); !errors.Is(err, state.ErrConflict) {
		t.Errorf("a write from the version read before the close: %v, want ErrConflict", err)
	}
	if _, err := s.Release(ctx, []state.Change{{Key: "d", Read: v, OldRaw: []byte(`{"a":1}`), Raw: []byte{}}}, closed); err != nil {
		t.Fatal(err)
	}
	if data, _, _ := s.LoadRaw(ctx, "d"); string(data) != `{"a":1}` {
		t.Errorf("after releasing the close: %q, want the digest back", data)
	}
}
