package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Silences survive a reopen with the stats and notices their batches
// wrote; expiring ends them, and an expired, noticed silence drops out of
// the listing once older than since.
func TestSilences(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Dir: dir, Sync: SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	a := Silence{ID: "a", CreatedAt: t0, StartsAt: t0, EndsAt: t0.Add(time.Hour), Spec: []byte(`{"a":1}`)}
	b := Silence{ID: "b", CreatedAt: t0.Add(time.Second), StartsAt: t0.Add(2 * time.Hour), EndsAt: t0.Add(3 * time.Hour), Spec: []byte(`{"b":1}`)}
	for _, si := range []Silence{a, b} {
		if err := s.AddSilence(ctx, si); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddSilence(ctx, a); err == nil {
		t.Error("AddSilence with a duplicate id: no error")
	}
	if err := s.Commit(ctx, &Batch{Silences: []SilenceUpdate{{ID: "a", Stats: []byte(`{"n":3}`)}}}); err != nil {
		t.Fatal(err)
	}
	// Expiring b before its start: it never starts.
	if err := s.ExpireSilence(ctx, "b", t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.ExpireSilence(ctx, "nope", t0); !errors.Is(err, ErrNoSilence) {
		t.Errorf("ExpireSilence(unknown) = %v, want ErrNoSilence", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	got, err := s.Silences(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	a.Stats = []byte(`{"n":3}`)
	b.StartsAt, b.EndsAt = t0.Add(30*time.Minute), t0.Add(30*time.Minute)
	if diff := cmp.Diff([]Silence{a, b}, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
	// b's end noticed: listed while since is before its end, not after.
	if err := s.Commit(ctx, &Batch{Silences: []SilenceUpdate{{ID: "b", Noticed: true}}}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Silences(ctx, t0.Add(45*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "a" {
		t.Errorf("Silences(after b ended) = %v, want only a", got)
	}
}

// Due summaries are written and deleted with a batch and survive a reopen.
func TestSummaries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Dir: dir, Sync: SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	b := &Batch{Summaries: []Summary{{Key: "k2", Due: t0.Add(2 * time.Minute), Data: []byte("2")}, {Key: "k1", Due: t0.Add(time.Minute), Data: []byte("1")}}}
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &Batch{Summaries: []Summary{{Key: "k2", Delete: true}, {Key: "k3", Due: t0, Data: []byte("3")}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	got, err := s.Summaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Summary{{Key: "k3", Due: t0, Data: []byte("3")}, {Key: "k1", Due: t0.Add(time.Minute), Data: []byte("1")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summaries (-want +got):\n%s", diff)
	}
}
