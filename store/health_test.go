package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/callback"
)

// fill appends n entries and closes the store, leaving a database of a
// few dozen pages.
func fill(t *testing.T, dir string, n int) {
	t.Helper()
	s := open(t, dir)
	for i := range n {
		if _, err := s.Append(context.Background(), callback.Raw{Query: sendQuery, Body: body("g", i), ReceivedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// A damaged database is refused at open with an error that says so and
// what to do, whether the damage is in its header or in a page.
func TestOpenRefusesDamage(t *testing.T) {
	tests := []struct {
		name   string
		offset int64 // where garbage is written
		want   string
	}{
		{"header", 0, "not a database"},
		{"page", 3 * 4096, "integrity check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, 300)
			f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte(strings.Repeat("\xde\xad\xbe\xef", 1024)), tt.offset); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
			s, err := Open(context.Background(), Options{Dir: dir, Exclusive: true})
			if err == nil {
				_ = s.Close()
				t.Fatal("a damaged database opened")
			}
			if !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "aside") {
				t.Errorf("open: %v; want ErrBroken mentioning %q and what to do", err, tt.want)
			}
		})
	}
}

// A sound database passes the check and reopens with its entries.
func TestOpenChecksSound(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 300)
	s := open(t, dir)
	if n, err := s.CountUnprocessed(context.Background()); err != nil || n != 300 {
		t.Fatalf("CountUnprocessed = %d, %v; want 300", n, err)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

// A database file or write-ahead log deleted or replaced under an open
// store breaks it: appends fail (so no callback is acknowledged into a
// deleted file), and so do other writes, until a restart.
func TestFilesReplaced(t *testing.T) {
	tests := []struct {
		name string
		do   func(t *testing.T, path string)
	}{
		{"database deleted", func(t *testing.T, path string) { remove(t, path) }},
		{"all deleted", func(t *testing.T, path string) {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				remove(t, p)
			}
		}},
		{"log deleted", func(t *testing.T, path string) { remove(t, path+"-wal") }},
		{"database replaced", func(t *testing.T, path string) {
			if err := os.WriteFile(path+".new", nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			s, err := Open(ctx, Options{Dir: dir, Sync: SyncNormal, Exclusive: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			raw := callback.Raw{Query: sendQuery, Body: body("g", 1), ReceivedAt: t0}
			if _, err := s.Append(ctx, raw); err != nil {
				t.Fatal(err)
			}
			tt.do(t, s.Path())
			if _, err := s.Append(ctx, raw); !errors.Is(err, ErrBroken) {
				t.Fatalf("append after the files changed: %v, want ErrBroken", err)
			}
			if err := s.Err(); err == nil || !strings.Contains(err.Error(), "deleted or replaced") {
				t.Errorf("Err = %v", err)
			}
			if err := s.Commit(ctx, &Batch{Through: 1}); !errors.Is(err, ErrBroken) {
				t.Errorf("commit on a broken store: %v, want ErrBroken", err)
			}
		})
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// The single-writer lock is the database file's own: there is no lock
// file to delete. Deleting the database lets a second daemon start on a
// new one, but the first is then broken and acknowledges nothing more,
// so the two never share a journal.
func TestExclusiveSurvivesDeletion(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, err := Open(ctx, Options{Dir: dir, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), FileName) && e.Name() != LogFileName {
			t.Errorf("data_dir holds %s besides the database", e.Name())
		}
	}
	if _, err := Open(ctx, Options{Dir: dir, Exclusive: true}); err == nil || !strings.Contains(err.Error(), "in use by another imalert") {
		t.Fatalf("second exclusive open: %v", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		remove(t, filepath.Join(dir, FileName+suffix))
	}
	b, err := Open(ctx, Options{Dir: dir, Exclusive: true})
	if err != nil {
		t.Fatalf("open after the files were deleted: %v", err)
	}
	defer b.Close()
	raw := callback.Raw{Query: sendQuery, Body: body("g", 1), ReceivedAt: t0}
	if _, err := a.Append(ctx, raw); !errors.Is(err, ErrBroken) {
		t.Errorf("the first daemon still appends: %v", err)
	}
	if _, err := b.Append(ctx, raw); err != nil {
		t.Errorf("the second daemon cannot append: %v", err)
	}
}

// Damage found while running (SQLite reports the database malformed)
// breaks the store.
func TestDamageWhileOpen(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 300)
	s := open(t, dir)
	ctx := context.Background()
	f, err := os.OpenFile(s.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	garbage := []byte(strings.Repeat("\xde\xad\xbe\xef", 1024))
	for off := int64(2 * 4096); off < fi.Size(); off += 4096 {
		if _, err := f.WriteAt(garbage, off); err != nil {
			t.Fatal(err)
		}
	}
	_ = f.Close()
	if _, err := s.Unprocessed(ctx, 0, 1000); err == nil {
		t.Fatal("reading a damaged journal succeeded")
	} else {
		t.Logf("reading a damaged journal: %v", err)
	}
	if err := s.Err(); !errors.Is(err, ErrBroken) {
		t.Fatalf("Err = %v, want ErrBroken", err)
	}
	if _, err := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", 1), ReceivedAt: t0}); !errors.Is(err, ErrBroken) {
		t.Errorf("append to a damaged store: %v, want ErrBroken", err)
	}
}

// A version 1 database (processed_at per entry) opens with its cursor
// after the processed prefix, and appends continue past every old id.
func TestMigrateFromV1(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db, err := sql.Open("sqlite", path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	setup := v1Schema + `PRAGMA user_version = 1;
		INSERT INTO events (received_at, query, body, processed_at) VALUES (1, 'q', 'a', 5), (2, 'q', 'b', 5), (3, 'q', 'c', NULL), (4, 'q', 'd', NULL);
		DELETE FROM events WHERE id = 1;`
	if _, err := db.Exec(setup); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	s := open(t, dir)
	ctx := context.Background()
	evs, err := s.Unprocessed(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].ID != 3 || evs[1].ID != 4 {
		t.Fatalf("unprocessed after migration: %+v, want ids 3 and 4", evs)
	}
	id, err := s.Append(ctx, callback.Raw{Query: "q", Body: []byte("e"), ReceivedAt: t0})
	if err != nil || id != 5 {
		t.Fatalf("append after migration: id %d, %v; want 5", id, err)
	}
	if err := s.Commit(ctx, &Batch{After: 0, Through: 4, ProcessedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountUnprocessed(ctx); n != 1 {
		t.Errorf("CountUnprocessed = %d, want 1", n)
	}
}

// The cursor never moves back, and ids are not reused once the sweep has
// deleted every processed entry: the newest is kept.
func TestCursor(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	old := t0.Add(-30 * 24 * time.Hour)
	var last int64
	for i := range 3 {
		id, err := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", i), ReceivedAt: old})
		if err != nil {
			t.Fatal(err)
		}
		last = id
	}
	if err := s.Commit(ctx, &Batch{Through: last, ProcessedAt: old}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, &Batch{Through: 1, ProcessedAt: old}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountUnprocessed(ctx); n != 0 {
		t.Fatalf("the cursor moved back: %d unprocessed", n)
	}
	if got, err := s.Sweep(ctx, SweepOptions{Before: t0, Now: t0}); err != nil || got.Events != 2 {
		t.Fatalf("Sweep = %+v, %v; want 2 events", got, err)
	}
	id, err := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", 9), ReceivedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	if id <= last {
		t.Fatalf("new id %d reuses an old one (last %d)", id, last)
	}
	evs, _ := s.Unprocessed(ctx, 0, 10)
	if len(evs) != 1 || evs[0].ID != id {
		t.Errorf("unprocessed = %+v, want the new entry only", evs)
	}
	if at, err := s.OldestUnprocessed(ctx); err != nil || !at.Equal(t0) {
		t.Errorf("OldestUnprocessed = %v, %v; want %v", at, err, t0)
	}
}

// Under a stream of group commits with processing commits in between,
// the write-ahead log stays under its ceiling.
func TestWALCeiling(t *testing.T) {
	const ceiling = 2 << 20
	s, err := Open(context.Background(), Options{Dir: t.TempDir(), Sync: SyncNormal, WALCeiling: ceiling})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	const writers, each = 16, 1500
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", w*each+i), ReceivedAt: t0}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var cursor int64
	for {
		evs, err := s.Unprocessed(ctx, cursor, 256)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			cursor = evs[len(evs)-1].ID
			if err := s.Commit(ctx, &Batch{After: 0, Through: cursor, ProcessedAt: t0}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		select {
		case <-done:
		default:
			continue
		}
		break
	}
	peak := s.walPeak.Load()
	t.Logf("%d appends: write-ahead log peaked at %d bytes", writers*each, peak)
	if peak == 0 || peak > ceiling {
		t.Errorf("write-ahead log peaked at %d bytes, ceiling %d", peak, ceiling)
	}
}

const v1Schema = `
CREATE TABLE IF NOT EXISTS events (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	received_at  INTEGER NOT NULL,
	query        TEXT    NOT NULL,
	body         BLOB    NOT NULL,
	processed_at INTEGER
);
CREATE INDEX IF NOT EXISTS events_unprocessed ON events(id) WHERE processed_at IS NULL;
CREATE INDEX IF NOT EXISTS events_received ON events(received_at);

CREATE TABLE IF NOT EXISTS notifications (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	uid             TEXT    NOT NULL UNIQUE,
	receiver        TEXT    NOT NULL,
	rule            TEXT    NOT NULL,
	group_key       TEXT    NOT NULL,
	event_id        INTEGER,
	created_at      INTEGER NOT NULL,
	state           TEXT    NOT NULL,
	data            BLOB    NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	last_attempt_at INTEGER NOT NULL DEFAULT 0,
	done_at         INTEGER NOT NULL DEFAULT 0,
	merged_into     INTEGER,
	ref             TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications(receiver, rule, group_key, seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS notifications_state ON notifications(state, seq);
CREATE INDEX IF NOT EXISTS notifications_event ON notifications(event_id);
CREATE INDEX IF NOT EXISTS notifications_done ON notifications(done_at) WHERE state <> 'pending';

CREATE TABLE IF NOT EXISTS windows (
	key        TEXT PRIMARY KEY,
	keep_until INTEGER NOT NULL,
	data       BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS windows_keep ON windows(keep_until);

CREATE TABLE IF NOT EXISTS digests (
	rule TEXT PRIMARY KEY,
	data BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS incidents (
	receiver  TEXT NOT NULL,
	rule      TEXT NOT NULL,
	group_key TEXT NOT NULL,
	ref       TEXT NOT NULL,
	opened_at INTEGER NOT NULL,
	last_at   INTEGER NOT NULL,
	PRIMARY KEY (receiver, rule, group_key)
) WITHOUT ROWID;
`

// A time is found in the journal by a binary search on id, across the
// gaps retention leaves.
func TestIDReceivedFrom(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	var ids []int64
	for i := range 40 {
		id, err := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", i), ReceivedAt: t0.Add(time.Duration(i) * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.settle(); err != nil {
		t.Fatal(err)
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM events WHERE id < ? OR (id > ? AND id < ?)`, ids[5], ids[10], ids[30])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	kept := map[int64]bool{}
	for i, id := range ids {
		kept[id] = i >= 5 && (i <= 10 || i >= 30)
	}
	next := func(id int64) int64 {
		for ; id <= ids[39] && !kept[id]; id++ {
		}
		return id
	}
	for _, tt := range []struct {
		at   time.Duration
		want int64
	}{
		{-time.Hour, ids[5]},
		{5 * time.Second, ids[5]},
		{7 * time.Second, ids[7]},
		{10 * time.Second, ids[10]},
		{11 * time.Second, ids[30]}, // ids[11] to ids[29] are deleted
		{30 * time.Second, ids[30]},
		{39 * time.Second, ids[39]},
		{time.Hour, ids[39] + 1},
	} {
		got, err := s.idReceivedFrom(ctx, t0.Add(tt.at))
		if err != nil {
			t.Fatal(err)
		}
		// Any id in a gap stands for the entry after it.
		if next(got) != next(tt.want) {
			t.Errorf("idReceivedFrom(t0+%v) = %d, want %d", tt.at, got, tt.want)
		}
	}
}

// The journal keeps each callback's de-duplication key; the newest keys
// since a time come back oldest first, bounded, without entries that had
// none.
func TestRecentDedupKeys(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	for i := range 10 {
		key := fmt.Sprintf("k%d", i)
		if i == 7 {
			key = "" // nothing could tell a retry of it apart
		}
		if _, err := s.Append(ctx, callback.Raw{Query: sendQuery, Body: body("g", i), ReceivedAt: t0.Add(time.Duration(i) * time.Minute), DedupKey: key}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.RecentDedupKeys(ctx, t0.Add(4*time.Minute), 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []DedupMark{
		{"k5", t0.Add(5 * time.Minute)}, {"k6", t0.Add(6 * time.Minute)},
		{"k8", t0.Add(8 * time.Minute)}, {"k9", t0.Add(9 * time.Minute)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("RecentDedupKeys (-want +got):\n%s", d)
	}
	if got, _ := s.RecentDedupKeys(ctx, t0.Add(8*time.Minute), 100); len(got) != 2 {
		t.Errorf("since t0+8m: %d keys, want 2", len(got))
	}
}

// A database too large to check before Open returns is checked in the
// background, and damage found there breaks the store.
func TestBackgroundCheck(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, 300)
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\xde\xad\xbe\xef", 512)), 3*2048); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	s, err := Open(context.Background(), Options{Dir: dir, Sync: SyncNormal, CheckBeforeOpenBytes: 1})
	if err != nil {
		t.Fatalf("open with the check in the background: %v", err)
	}
	defer s.Close()
	s.bg.Wait()
	if err := s.Err(); !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), "integrity check") {
		t.Fatalf("Err after the background check = %v", err)
	}
	if _, err := s.Append(context.Background(), callback.Raw{Query: sendQuery, Body: body("g", 1), ReceivedAt: t0}); !errors.Is(err, ErrBroken) {
		t.Errorf("append after the background check failed: %v", err)
	}
}
