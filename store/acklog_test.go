package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
)

func logRaw(i int) callback.Raw {
	return callback.Raw{Query: sendQuery, Body: body(fmt.Sprintf("g%d", i%7), i), ReceivedAt: t0.Add(time.Duration(i) * time.Millisecond), DedupKey: fmt.Sprintf("k%d", i)}
}

// copyData copies the data directory's files as they are on disk at this
// moment: what a machine that stopped now would start with.
func copyData(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	for _, name := range []string{FileName, FileName + "-wal", LogFileName} {
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// Callbacks acknowledged through the log and not yet moved into the
// database are read back at the next start, with their ids, bodies,
// times and de-duplication keys, and processing starts with them.
func TestLogRecovery(t *testing.T) {
	for _, mode := range []string{SyncFull, SyncNormal} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			s, err := Open(ctx, Options{Dir: dir, Sync: mode, Exclusive: true, LogBytes: 64 * logPage})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Some entries reach the database, the rest stay in the log.
			var want []Event
			for i := range 5 {
				id, err := s.Append(ctx, logRaw(i))
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, Event{ID: id, Raw: logRaw(i)})
			}
			if err := s.settle(); err != nil {
				t.Fatal(err)
			}
			s.foldMu.Lock() // no fold from here on
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i := 5; i < 40; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					raws := []callback.Raw{logRaw(i)}
					if i%5 == 0 {
						raws = append(raws, logRaw(1000+i)) // a Push of two
					}
					ids, err := s.AppendAll(ctx, raws)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					for k, id := range ids {
						want = append(want, Event{ID: id, Raw: raws[k]})
					}
				}()
			}
			wg.Wait()
			crashed := copyData(t, dir)
			s.foldMu.Unlock()

			// The second start asks for a smaller log: it is made afresh,
			// after its entries are read back.
			size := int64(64 * logPage)
			if mode == SyncNormal {
				size = 32 * logPage
			}
			r, err := Open(ctx, Options{Dir: crashed, Sync: mode, Exclusive: true, LogBytes: size})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := r.Unprocessed(ctx, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(want, func(a, b Event) int { return int(a.ID - b.ID) })
			if len(got) != len(want) {
				t.Fatalf("read back %d entries, want %d", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.ID != w.ID || g.Raw.Query != w.Raw.Query || !bytes.Equal(g.Raw.Body, w.Raw.Body) || !g.Raw.ReceivedAt.Equal(w.Raw.ReceivedAt) {
					t.Errorf("entry %d = %d %q at %v, want %d %q at %v", i, g.ID, g.Raw.Body, g.Raw.ReceivedAt, w.ID, w.Raw.Body, w.Raw.ReceivedAt)
				}
			}
			keys, err := r.RecentDedupKeys(ctx, t0.Add(-1), 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(want) {
				t.Errorf("%d de-duplication keys read back, want %d", len(keys), len(want))
			}
			// New entries follow the recovered ones.
			id, err := r.Append(ctx, logRaw(99))
			if err != nil {
				t.Fatal(err)
			}
			if last := want[len(want)-1].ID; id != last+1 {
				t.Errorf("next id %d, want %d", id, last+1)
			}
			if fi, err := os.Stat(filepath.Join(crashed, LogFileName)); err != nil {
				t.Error(err)
			} else if fi.Size() != size {
				t.Errorf("log of %d bytes, want %d", fi.Size(), size)
			}
		})
	}
}

// The log is a ring: once its space is used, commits reuse the space of
// entries already in the database, never of entries that are not, and
// a commit that finds no room is refused rather than written over them.
func TestLogRing(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, keySize)
	const size = 16 * logPage
	l, recs, _, err := openAckLog(filepath.Join(dir, LogFileName), size, key, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.f.Close()
	if len(recs) != 0 {
		t.Fatalf("a new log holds %d entries", len(recs))
	}
	big := func(i int) []callback.Raw {
		r := logRaw(i)
		r.Body = bytes.Repeat([]byte{'x'}, 3*logPage) // four pages a commit
		return []callback.Raw{r}
	}
	// 15 pages after the header: three commits fit, the fourth does not.
	for i := 1; i <= 3; i++ {
		if err := l.write(big(i), int64(i), 0); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if err := l.write(big(4), 4, 0); !errors.Is(err, errLogFull) {
		t.Fatalf("fourth commit with nothing folded: %v, want errLogFull", err)
	}
	// Entry 1 folded: its pages are reused, at the start of the ring.
	if err := l.write(big(4), 4, 1); err != nil {
		t.Fatalf("after a fold: %v", err)
	}
	if l.pos != 5*logPage {
		t.Errorf("wrote up to %d, want %d", l.pos, 5*logPage)
	}
	if err := l.write(big(5), 5, 1); !errors.Is(err, errLogFull) {
		t.Fatalf("commit over entry 2, not folded: %v, want errLogFull", err)
	}
	// What a start reads back: entries 2 to 4 (1 was folded), in order.
	recs, damaged, err := scanLog(l.f, size, 1)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range recs {
		ids = append(ids, r.id)
	}
	if !slices.Equal(ids, []int64{2, 3, 4}) || damaged != 0 {
		t.Errorf("read back ids %v (%d damaged), want [2 3 4]", ids, damaged)
	}
}

// A damaged record is skipped and counted; the others are read back. A
// log written for another database is not read at all.
func TestLogDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LogFileName)
	key := bytes.Repeat([]byte{1}, keySize)
	l, _, _, err := openAckLog(path, 16*logPage, key, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.write([]callback.Raw{logRaw(1), logRaw(2)}, 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.write([]callback.Raw{logRaw(3)}, 3, 0); err != nil {
		t.Fatal(err)
	}
	// Flip a byte in the body of entry 2.
	second := int64(logPage) + encodedLen(logRaw(1)) + recHeader + int64(len(sendQuery)) + 3
	b := make([]byte, 1)
	if _, err := l.f.ReadAt(b, second); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := l.f.WriteAt(b, second); err != nil {
		t.Fatal(err)
	}
	_ = l.f.Close()

	l, recs, damaged, err := openAckLog(path, 16*logPage, key, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range recs {
		ids = append(ids, r.id)
	}
	if !slices.Equal(ids, []int64{1, 3}) || damaged != 1 {
		t.Errorf("read back ids %v with %d damaged, want [1 3] with 1", ids, damaged)
	}
	if recs[1].raw.DedupKey != "k3" || string(recs[1].raw.Body) != string(logRaw(3).Body) {
		t.Errorf("entry 3 read back as %+v", recs[1].raw)
	}
	_ = l.f.Close()

	other := bytes.Repeat([]byte{2}, keySize)
	l, recs, _, err = openAckLog(path, 16*logPage, other, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.f.Close()
	if len(recs) != 0 {
		t.Errorf("another database's log gave %d entries", len(recs))
	}
	head := make([]byte, logHeaderLen)
	if _, err := io.ReadFull(io.NewSectionReader(l.f, 0, int64(logHeaderLen)), head); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(head[len(logMagic):], other) {
		t.Error("the log was not made afresh for the database that opened it")
	}
}

// While the database takes no writes (a full disk), callbacks are still
// acknowledged through the log until it is full; then they are refused,
// without breaking the store, and taken again once the database takes
// writes. Nothing acknowledged meanwhile is lost.
func TestLogFullRecovers(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{Dir: t.TempDir(), Sync: SyncNormal, Exclusive: true, LogBytes: 16 * logPage})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exec := func(q string) {
		t.Helper()
		if err := s.tx(ctx, func(tx *sql.Tx) error { _, err := tx.ExecContext(ctx, q); return err }); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TRIGGER full_disk BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`)
	var acked []int64
	var refused error
	for i := range 100 {
		id, err := s.Append(ctx, logRaw(i))
		if err != nil {
			refused = err
			break
		}
		acked = append(acked, id)
	}
	if !errors.Is(refused, errLogFull) || len(acked) == 0 {
		t.Fatalf("after %d acknowledged: %v, want errLogFull", len(acked), refused)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("a full log broke the store: %v", err)
	}
	exec(`DROP TRIGGER full_disk`)
	id, err := s.Append(ctx, logRaw(1000))
	if err != nil {
		t.Fatalf("append once the database takes writes again: %v", err)
	}
	acked = append(acked, id)
	evs, err := s.Unprocessed(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range evs {
		got = append(got, e.ID)
	}
	if !slices.Equal(got, acked) {
		t.Errorf("entries %v, want the acknowledged %v", got, acked)
	}
}

// FuzzScanLog reads arbitrary bytes as a log: no panic, every record it
// returns passed its checksum, and the records of a log written by
// ackLog.write come back as written, whatever garbage follows them.
func FuzzScanLog(f *testing.F) {
	f.Add([]byte{}, uint8(2))
	f.Add(bytes.Repeat([]byte{0x49, 0x4d, 0x4a, 0x31}, 300), uint8(1))
	f.Add(appendRecord(nil, 7, logRaw(7)), uint8(3))
	f.Fuzz(func(t *testing.T, garbage []byte, n uint8) {
		dir := t.TempDir()
		key := bytes.Repeat([]byte{3}, keySize)
		const size = 16 * logPage
		l, _, _, err := openAckLog(filepath.Join(dir, LogFileName), size, key, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer l.f.Close()
		var raws []callback.Raw
		for i := range int(n % 4) {
			r := logRaw(i)
			r.Body = append(r.Body, garbage[:min(len(garbage), 100)]...)
			raws = append(raws, r)
		}
		if len(raws) > 0 {
			if err := l.write(raws, 1, 0); err != nil {
				t.Fatal(err)
			}
		}
		// Garbage after the records, as a torn or older write leaves.
		if _, err := l.f.WriteAt(garbage[:min(len(garbage), size-int(l.pos))], l.pos); err != nil {
			t.Fatal(err)
		}
		recs, _, err := scanLog(l.f, size, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, raw := range raws {
			if i >= len(recs) || recs[i].id != int64(i+1) || !bytes.Equal(recs[i].raw.Body, raw.Body) || recs[i].raw.Query != raw.Query {
				t.Fatalf("record %d not read back as written", i+1)
			}
		}
		// Anything read from the garbage alone is a whole, checked record.
		recs, _, err = scanLog(bytes.NewReader(append(make([]byte, logPage), garbage...)), int64(logPage+len(garbage)), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.end > int64(logPage+len(garbage)) {
				t.Fatalf("record %d ends past the data", r.id)
			}
		}
	})
}

// A request too large for the log (over an eighth of it) goes straight
// into the database, after the entries the log holds: ids stay in order
// and none is lost, across a restart too.
func TestLogOversized(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Dir: dir, Sync: SyncNormal, Exclusive: true, LogBytes: 16 * logPage})
	if err != nil {
		t.Fatal(err)
	}
	big := logRaw(1)
	big.Body = bytes.Repeat([]byte{'x'}, 4*logPage)
	raws := []callback.Raw{logRaw(0), big, logRaw(2)}
	var ids []int64
	for _, r := range raws {
		id, err := s.Append(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if !slices.Equal(ids, []int64{ids[0], ids[0] + 1, ids[0] + 2}) {
		t.Errorf("ids %v, want three in a row", ids)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, Options{Dir: dir, Sync: SyncNormal, Exclusive: true, LogBytes: 16 * logPage})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	evs, err := r.Unprocessed(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("%d entries, want 3", len(evs))
	}
	for i, e := range evs {
		if e.ID != ids[i] || !bytes.Equal(e.Raw.Body, raws[i].Body) {
			t.Errorf("entry %d: id %d, %d bytes; want id %d, %d bytes", i, e.ID, len(e.Raw.Body), ids[i], len(raws[i].Body))
		}
	}
}

// FuzzScanRecord gives scanLog a record whose checksum holds whatever its
// fields say (written by a bug, or damage the checksum misses), followed
// by anything: it is read back exactly as its fields describe it, or
// skipped when they do not fit; nothing is read past its end.
func FuzzScanRecord(f *testing.F) {
	f.Add(appendRecord(nil, 7, logRaw(7))[12:], []byte{})
	f.Add(make([]byte, recHeader-12), []byte("tail"))
	f.Add(bytes.Repeat([]byte{0xff}, recHeader), appendRecord(nil, 8, logRaw(8)))
	f.Fuzz(func(t *testing.T, fields, tail []byte) {
		const fixed = recHeader - 12 // id, time and the two lengths
		if len(fields) < fixed {
			return
		}
		rec := binary.LittleEndian.AppendUint32(nil, recMagic)
		rec = binary.LittleEndian.AppendUint32(rec, uint32(len(fields)-fixed))
		rec = binary.LittleEndian.AppendUint32(rec, crc32.Checksum(fields, crcTable))
		rec = append(rec, fields...)
		file := append(append(make([]byte, logPage), rec...), tail...)
		recs, _, err := scanLog(bytes.NewReader(file), int64(len(file)), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.end > int64(len(file)) {
				t.Fatalf("record %d ends past the data", r.id)
			}
		}
		id := int64(binary.LittleEndian.Uint64(fields))
		ql := int(binary.LittleEndian.Uint32(fields[16:]))
		kl := int(binary.LittleEndian.Uint32(fields[20:]))
		payload := fields[fixed:]
		fits := id > 0 && ql <= len(payload) && kl <= len(payload)-ql
		i := slices.IndexFunc(recs, func(r logRecord) bool { return r.end == int64(logPage+len(rec)) })
		switch {
		case fits && i < 0:
			t.Fatalf("record %d, whose fields fit, not read", id)
		case !fits && i >= 0:
			t.Fatalf("record %d read, though its fields do not fit", recs[i].id)
		case fits:
			r := recs[i]
			if r.id != id || r.raw.Query != string(payload[:ql]) || !bytes.Equal(r.raw.Body, payload[ql:len(payload)-kl]) ||
				r.raw.DedupKey != string(payload[len(payload)-kl:]) {
				t.Fatalf("record %d not read as its fields say", id)
			}
		}
	})
}
