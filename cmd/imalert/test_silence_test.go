package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

// --from-journal meets each event with the silences active when it was
// received: the one received before the silence started pages, the one
// after is held.
func TestDryRunFromJournalSilenced(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: dir, Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, at := range []time.Time{now.Add(-time.Hour), now.Add(-time.Hour + time.Minute)} {
		if _, err := st.Append(ctx, callback.Raw{Query: strings.TrimPrefix(sampleQuery, "?"), Body: body, ReceivedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AddSilence(ctx, store.Silence{ID: "s1", CreatedAt: now.Add(-time.Hour), StartsAt: now.Add(-time.Hour + 30*time.Second),
		EndsAt: now.Add(time.Hour), Spec: []byte(`{"matchers": {"GroupId": "@TGS#2J4SZEAEL"}, "author": "ana", "comment": "c"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"test", "--from-journal", "--data-dir", dir, "--since", "2h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	first, second, ok := strings.Cut(out, "event 2 (journal #2)")
	if !ok || !strings.Contains(first, "decision: page (first)") || !strings.Contains(second, "decision: held (silenced): an active silence matches") {
		t.Errorf("output:\n%s", out)
	}
}
