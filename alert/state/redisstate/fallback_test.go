package redisstate

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/config"
	itestutil "github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/internal/yamlfile"
)

func open(t *testing.T, addr, policy string) (*Fallback, *Metrics) {
	t.Helper()
	c := config.State{Backend: config.StateRedis, OnRedisError: policy,
		Redis: config.Redis{Addr: addr, KeyPrefix: "t:", Timeout: yamlfile.Duration(2 * time.Second)}}
	s, closeFn, err := Open(context.Background(), c, Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	f := s.(*Fallback)
	return f, f.metrics
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestOpenMemoryIsNil(t *testing.T) {
	s, closeFn, err := Open(context.Background(), config.State{Backend: config.StateMemory}, Options{})
	if s != nil || err != nil || closeFn() != nil {
		t.Errorf("Open(memory) = %v, %v; want nil, nil", s, err)
	}
}

// Fail closed: a Redis that does not answer is an error, and during the
// backoff it is not asked again (the error count stays).
func TestFailClosed(t *testing.T) {
	ctx := context.Background()
	f, m := open(t, closedAddr(t), config.FailClosed)
	if got := testutil.ToFloat64(m.up); got != 0 {
		t.Errorf("up = %v after a failed ping, want 0", got)
	}
	errs := testutil.ToFloat64(m.errors)
	for range 3 {
		if _, _, _, err := f.Load(ctx, "k"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Load = %v, want ErrUnavailable", err)
		}
	}
	if _, err := f.Claim(ctx, []state.Change{{Key: "k"}}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Claim = %v, want ErrUnavailable", err)
	}
	if got := testutil.ToFloat64(m.errors); got != errs {
		t.Errorf("Redis errors went from %v to %v inside the backoff: it was asked again", errs, got)
	}
	if got := testutil.ToFloat64(m.without.WithLabelValues("fail_closed")); got != 4 {
		t.Errorf("held = %v, want 4 (3 loads, 1 claim of one key)", got)
	}
}

// Fail open: what was read from Redis before it went away still decides;
// claims go to memory; once Redis answers, it is asked again.
func TestFailOpen(t *testing.T) {
	ctx := context.Background()
	srv := itestutil.StartRedis(t)
	f, m := open(t, srv.Addr, config.FailOpen)
	e := state.Entry{State: state.KeyState{Suppressed: 2}, KeepUntil: time.Now().Add(time.Hour).UTC()}
	if err := f.Put(ctx, "seen", e); err != nil {
		t.Fatal(err)
	}
	if _, ok, _, err := f.Load(ctx, "seen"); !ok || err != nil {
		t.Fatalf("Load(seen) = %v, %v", ok, err)
	}
	srv.Stop()
	got, ok, v, err := f.Load(ctx, "seen")
	if err != nil || !ok || v != 0 || got.State.Suppressed != 2 {
		t.Fatalf("Load(seen) while down = %+v, %v, version %d, %v; want the mirrored entry, version 0", got, ok, v, err)
	}
	if wrote, err := f.Claim(ctx, []state.Change{{Key: "new", Entry: e}}); err != nil || len(wrote) != 1 || wrote[0] != 0 {
		t.Fatalf("Claim while down = %v, %v; want one version 0", wrote, err)
	}
	if _, ok, _, _ := f.Load(ctx, "new"); !ok {
		t.Error("a claim taken while down is not in memory")
	}
	if got := testutil.ToFloat64(m.without.WithLabelValues("fail_open")); got != 1 {
		t.Errorf("decisions without Redis = %v, want 1", got)
	}
	srv.Start()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(m.up) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("Redis back, never asked again")
		}
		_, _, _, _ = f.Load(ctx, "seen")
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok, v, err := f.Load(ctx, "new"); ok || v != 0 || err != nil {
		t.Errorf("after Redis came back (empty): Load(new) = %v, version %d, %v; want Redis's answer, absent", ok, v, err)
	}
}
