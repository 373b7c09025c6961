package store

import (
	"bytes"
	"context"
	"testing"
)

// A key is generated once: asked again, or after a reopen, it is the same;
// another name gets another key.
func TestKeyPersists(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Dir: dir, Sync: SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Key(ctx, "mute")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != keySize || bytes.Equal(a, make([]byte, keySize)) {
		t.Fatalf("key %x: want %d random bytes", a, keySize)
	}
	again, err := s.Key(ctx, "mute")
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Key(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, again) {
		t.Error("second Key: a different key")
	}
	if bytes.Equal(a, other) {
		t.Error("two names share a key")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, Options{Dir: dir, Sync: SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reopened, err := s.Key(ctx, "mute")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, reopened) {
		t.Error("key changed across a reopen")
	}
}
