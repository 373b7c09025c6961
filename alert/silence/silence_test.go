package silence

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/store"
)

var t0 = time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)

func openSet(t testing.TB, now *time.Time) (*Set, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	s, err := Open(context.Background(), Options{Store: st, MaxDuration: 24 * time.Hour, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func TestAddInvalid(t *testing.T) {
	now := t0
	s, _ := openSet(t, &now)
	past := t0.Add(-time.Hour)
	tests := []struct {
		name string
		req  Request
		want []string
	}{
		{"rule language errors", Request{Matchers: json.RawMessage(`{"eror_code": 1, "from_account": {"regex": "("}}`), Duration: "1h", Author: "a", Comment: "c"},
			[]string{`match: unknown field "eror_code" (did you mean "error_code"?)`, `from_account: bad regex "("`}},
		{"no matchers", Request{Matchers: json.RawMessage(`{}`), Duration: "1h", Author: "a", Comment: "c"}, []string{"at least one condition"}},
		{"missing matchers", Request{Duration: "1h", Author: "a", Comment: "c"}, []string{"matchers"}},
		{"no author nor comment", Request{Matchers: json.RawMessage(`{"error_code": 10023}`), Duration: "1h"}, []string{"author is required", "comment is required"}},
		{"both ends", Request{Matchers: json.RawMessage(`{"error_code": 10023}`), Duration: "1h", EndsAt: &now, Author: "a", Comment: "c"}, []string{"either duration or ends_at"}},
		{"bad duration", Request{Matchers: json.RawMessage(`{"error_code": 10023}`), Duration: "soon", Author: "a", Comment: "c"}, []string{`duration: want a positive duration`}},
		{"ends in the past", Request{Matchers: json.RawMessage(`{"error_code": 10023}`), EndsAt: &past, Author: "a", Comment: "c"}, []string{"ends_at must be after"}},
		{"too long", Request{Matchers: json.RawMessage(`{"error_code": 10023}`), Duration: "2d", Author: "a", Comment: "c"}, []string{"at most 1d (silences.max_duration)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Add(context.Background(), tt.req)
			var ie *InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want *InvalidError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
	if got := s.List(); len(got) != 0 {
		t.Errorf("invalid requests left silences: %v", got)
	}
}

// States follow the API clock; a silence survives reopening; expiring a
// pending silence means it never starts.
func TestStates(t *testing.T) {
	ctx := context.Background()
	now := t0
	s, st := openSet(t, &now)
	later := t0.Add(time.Hour)
	a, err := s.Add(ctx, Request{Matchers: json.RawMessage(`{"error_code": "80001-80004"}`), Duration: "30m", Author: "ana", Comment: "filter tuning"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Add(ctx, Request{Matchers: json.RawMessage(`{"error_code": 10023}`), StartsAt: &later, Duration: "1h", Author: "bo", Comment: "load test tonight"})
	if err != nil {
		t.Fatal(err)
	}
	if a.State != Active || b.State != Pending || !a.EndsAt.Equal(t0.Add(30*time.Minute)) || !b.EndsAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("a = %+v\nb = %+v", a, b)
	}
	if _, err := s.Expire(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Expire(unknown) = %v, want ErrNotFound", err)
	}
	now = t0.Add(10 * time.Minute)
	if _, err := s.Expire(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	re, err := Open(ctx, Options{Store: st, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]State{}
	for _, v := range re.List() {
		got[v.ID] = v.State
	}
	if got[a.ID] != Active || got[b.ID] != Expired {
		t.Errorf("after reopen: %v, want a active and b expired", got)
	}
	now = t0.Add(31 * time.Minute)
	for _, v := range re.List() {
		if v.State != Expired {
			t.Errorf("%s past its end: %s", v.ID, v.State)
		}
	}
}

// A silence records where it was made; a mute link's capability makes one
// silence at most, even after a restart and after the silence is expired.
func TestViaAndCapability(t *testing.T) {
	ctx := context.Background()
	now := t0
	s, st := openSet(t, &now)
	m := json.RawMessage(`{"GroupId": "@TGS#1"}`)
	api, err := s.Add(ctx, Request{Matchers: m, Duration: "1h", Author: "ana", Comment: "c"})
	if err != nil {
		t.Fatal(err)
	}
	link, err := s.Add(ctx, Request{Matchers: m, Duration: "1h", Author: "bo", Comment: "c", Via: ViaLink, Capability: "cap1"})
	if err != nil {
		t.Fatal(err)
	}
	if api.Via != ViaAPI || link.Via != ViaLink {
		t.Errorf("via: api %q, link %q", api.Via, link.Via)
	}
	if _, err := s.Expire(ctx, link.ID); err != nil {
		t.Fatal(err)
	}
	re, err := Open(ctx, Options{Store: st, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = re.Add(ctx, Request{Matchers: m, Duration: "1h", Author: "bo", Comment: "again", Via: ViaLink, Capability: "cap1"})
	var used *UsedError
	if !errors.As(err, &used) || used.Silence.ID != link.ID || used.Silence.Via != ViaLink {
		t.Fatalf("second silence from one link: err = %v, want UsedError naming %s", err, link.ID)
	}
	if _, err := re.Add(ctx, Request{Matchers: m, Duration: "1h", Author: "bo", Comment: "c", Via: ViaLink, Capability: "cap2"}); err != nil {
		t.Errorf("another link: %v", err)
	}
	if n := len(re.List()); n != 3 {
		t.Errorf("%d silences, want 3", n)
	}
}
