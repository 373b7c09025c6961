// Package statetest is the behaviour every state.Store must have, as one
// test table: the memory store passes it, and so must a shared one.
package statetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/state"
)

// t0 is far in the future, so that a store whose expiry reads the wall
// clock keeps every entry of the table.
var t0 = time.Date(2226, 11, 25, 14, 0, 0, 0, time.UTC)

// sample is a state with every field set.
func sample() state.Entry {
	return state.Entry{
		State: state.KeyState{
			Start: t0, End: t0.Add(10 * time.Minute), Window: 10 * time.Minute, Suppressed: 3,
			First: t0.Add(time.Second), Last: t0.Add(time.Minute),
			Hits: []time.Time{t0, t0.Add(time.Second)}, Seen: true,
			Who: []uint32{1, 2}, Names: []string{"@TGS#1", "jared"},
		},
		KeepUntil: t0.Add(24 * time.Hour),
	}
}

// Run runs the table against stores made by open, one per test.
func Run(t *testing.T, open func(t *testing.T) state.Store) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, s state.Store)
	}{
		{"unknown key is absent", func(t *testing.T, s state.Store) {
			if e, ok, err := s.Get(ctx, "nope"); err != nil || ok {
				t.Errorf("Get = %+v, %v, %v; want absent, no error", e, ok, err)
			}
		}},
		{"put then get returns the entry", func(t *testing.T, s state.Store) {
			put(t, s, "k", sample())
			want(t, s, "k", sample())
		}},
		{"put replaces", func(t *testing.T, s state.Store) {
			put(t, s, "k", sample())
			e := state.Entry{State: state.KeyState{Start: t0.Add(time.Hour)}, KeepUntil: t0.Add(2 * time.Hour)}
			put(t, s, "k", e)
			want(t, s, "k", e)
		}},
		{"an empty state is kept", func(t *testing.T, s state.Store) {
			e := state.Entry{KeepUntil: t0.Add(time.Hour)}
			put(t, s, "k", e)
			want(t, s, "k", e)
		}},
		{"delete drops the key, and a missing key too", func(t *testing.T, s state.Store) {
			put(t, s, "k", sample())
			for range 2 {
				if err := s.Delete(ctx, "k"); err != nil {
					t.Fatal(err)
				}
			}
			if _, ok, _ := s.Get(ctx, "k"); ok {
				t.Error("deleted key still there")
			}
		}},
		{"keys are apart, whatever bytes they hold", func(t *testing.T, s state.Store) {
			keys := []string{"r\x00GroupId=\"@TGS#1\"", "r\x00GroupId=\"@TGS#2\"", "", "\xff\xfe", "r"}
			for i, k := range keys {
				e := sample()
				e.State.Suppressed = i
				put(t, s, k, e)
			}
			for i, k := range keys {
				e := sample()
				e.State.Suppressed = i
				want(t, s, k, e)
			}
		}},
		{"the store holds a copy", func(t *testing.T, s state.Store) {
			e := sample()
			put(t, s, "k", e)
			e.State.Hits[0] = t0.Add(-time.Hour)
			e.State.Who[0], e.State.Names[0] = 9, "changed"
			got, _, _ := s.Get(ctx, "k")
			got.State.Hits[1] = t0.Add(-time.Hour)
			got.State.Who[1], got.State.Names[1] = 9, "changed"
			want(t, s, "k", sample())
		}},
		{"many keys", func(t *testing.T, s state.Store) {
			for i := range 100 {
				put(t, s, fmt.Sprint("key-", i), sample())
			}
			for i := range 100 {
				want(t, s, fmt.Sprint("key-", i), sample())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, open(t)) })
	}
}

func put(t *testing.T, s state.Store, key string, e state.Entry) {
	t.Helper()
	if err := s.Put(context.Background(), key, e); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func want(t *testing.T, s state.Store, key string, e state.Entry) {
	t.Helper()
	got, ok, err := s.Get(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("Get(%q) = ok %v, err %v; want the entry", key, ok, err)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("Get(%q) (-want +got):\n%s", key, diff)
	}
}
