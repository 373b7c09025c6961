package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/imalert/imalert/callback"
)

// LogFileName is the journal's acknowledgement log inside data_dir: a
// file of fixed size (Options.LogBytes) that every callback is written and
// synced to before it is acknowledged. A commit there is one write and one
// fdatasync of the pages it fills: no b-tree pages, no page rewritten at
// every commit, and no wait for the database's own transactions. Entries
// are moved ("folded") into the database's journal in batches a few times
// a second; the space they held is reused once that batch is synced. At
// start, entries not yet folded are read back and folded before anything
// else happens. The file is written in a ring and never grows.
const LogFileName = "journal.log"

// DefaultLogBytes is the default Options.LogBytes: 32 MiB. Entries are
// folded several times a second, so the log holds seconds of a storm even
// when folding is held up; when it is full, callbacks are refused (503)
// until folding frees space.
const DefaultLogBytes = 32 << 20

// logPage is the unit of log writes: each commit starts on a page of its
// own, so fdatasync writes every page once instead of rewriting the last
// one at every commit.
const logPage = 4096

// dropEvery is how many bytes of commits the log's cached pages are
// dropped after. The log is never read while open, and a page kept in
// the cache can sit in a large folio that the kernel writes back whole
// when the ring comes round to it; the drop is far ahead of that. A
// drop after every commit was a system call per commit (1% of the
// daemon's CPU flat out) and wrote no fewer bytes.
const dropEvery = 256 << 10

// Log header (its first page) and record layout, little-endian:
//
//	header: magic "IMAJLOG1", the database's log key (32 bytes)
//	record: magic u32, payload length u32, CRC-32C u32 of the rest,
//	        id u64, received_at i64 (Unix ns), query length u32,
//	        key length u32, then query, body, key.
const (
	logMagic     = "IMAJLOG1"
	recMagic     = 0x314a4d49 // "IMJ1"
	recHeader    = 36
	logKeyName   = "journal.log"
	logHeaderLen = len(logMagic) + keySize
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errLogFull is the answer to an append while the log holds no room for
// it: everything in it waits to be folded into the database.
var errLogFull = errors.New("store: journal log full: entries wait to be written to the database")

// ackLog is the open acknowledgement log. Only the journal writer writes
// it; folded is shared with the folder.
type ackLog struct {
	f    *os.File
	path string
	id   os.FileInfo
	size int64
	sync bool // fdatasync each commit (journal.sync: full)
	pos  int64
	// extents are the commits written since the last fold caught up,
	// oldest first: their space is not reused until they are folded.
	extents []extent
	buf     []byte
	// dropped is where the last commit whose pages were dropped from
	// the cache ended.
	dropped int64
	// resize: the file opened is not of the size asked for; it is made
	// afresh once its entries are in the database.
	resize bool
}

type extent struct {
	start, end int64
	last       int64 // the commit's last entry id
}

// logRecord is one entry read back from the log.
type logRecord struct {
	id  int64
	raw callback.Raw
	end int64 // offset just past it
}

// openAckLog opens (creating, or re-creating when it belongs to another
// database) the log at path and returns the entries it holds above
// folded, oldest first.
func openAckLog(path string, size int64, key []byte, syncEach bool, folded int64) (*ackLog, []logRecord, int, error) {
	l := &ackLog{path: path, size: size, sync: syncEach, pos: logPage}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("store: %w", err)
	}
	l.f = f
	header := make([]byte, logHeaderLen)
	_, err = f.ReadAt(header, 0)
	fi, serr := f.Stat()
	if serr != nil {
		_ = f.Close()
		return nil, nil, 0, fmt.Errorf("store: %w", serr)
	}
	var recs []logRecord
	damaged := 0
	if err == nil && string(header[:len(logMagic)]) == logMagic && bytes.Equal(header[len(logMagic):], key) {
		l.resize = fi.Size() != size
		recs, damaged, err = scanLog(f, fi.Size(), folded)
		if err != nil {
			_ = f.Close()
			return nil, nil, 0, fmt.Errorf("store: read %s: %w", path, err)
		}
		dropCache(f)
		if len(recs) > 0 {
			l.pos = roundUp(recs[len(recs)-1].end)
		} // else every entry is in the database: any page may be written
		if l.id, err = f.Stat(); err != nil {
			_ = f.Close()
			return nil, nil, 0, fmt.Errorf("store: %w", err)
		}
	} else {
		// A new log, or one left by another database (its entries are not
		// this journal's): written afresh in full, so that no page of it
		// is allocated by a later write and every commit syncs data only.
		if err := l.initialize(key); err != nil {
			_ = f.Close()
			return nil, nil, 0, err
		}
	}
	return l, recs, damaged, nil
}

// initialize makes a new log, with its header and the rest zeroed, and
// puts it in place of the old one (which a process that still has it open
// then sees replaced).
func (l *ackLog) initialize(key []byte) error {
	tmp := l.path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	fail := func(err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("store: %s: %w", l.path, err)
	}
	zero := make([]byte, 1<<20)
	for off := int64(0); off < l.size; off += int64(len(zero)) {
		n := min(int64(len(zero)), l.size-off)
		if _, err := f.WriteAt(zero[:n], off); err != nil {
			return fail(err)
		}
	}
	header := append([]byte(logMagic), key...)
	if _, err := f.WriteAt(header, 0); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	dropCache(f)
	if err := os.Rename(tmp, l.path); err != nil {
		return fail(err)
	}
	if d, err := os.Open(filepath.Dir(l.path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	id, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	_ = l.f.Close()
	l.f, l.id, l.pos, l.resize = f, id, logPage, false
	return nil
}

// scanLog reads every intact record of the log and returns those with ids
// above folded, by id, and how many records were found damaged. A record
// starts a page, or right after another; what is not a record (padding,
// a torn write, the rest of an older record) is skipped to the next page.
func scanLog(r io.ReaderAt, size, folded int64) ([]logRecord, int, error) {
	var recs []logRecord
	damaged := 0
	const chunk = 1 << 20
	buf := make([]byte, 0, chunk)
	bufAt := int64(logPage) // file offset of buf[0]
	// need makes buf hold [off, off+n) and returns it.
	need := func(off int64, n int) ([]byte, error) {
		if off >= bufAt && off+int64(n) <= bufAt+int64(len(buf)) {
			return buf[off-bufAt : off-bufAt+int64(n)], nil
		}
		want := max(n, chunk)
		if cap(buf) < want {
			buf = make([]byte, 0, want)
		}
		m := min(int64(want), size-off)
		buf = buf[:m]
		if _, err := r.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		bufAt = off
		if int64(n) > m {
			return nil, nil // runs past the end
		}
		return buf[:n], nil
	}
	for off := int64(logPage); off+recHeader <= size; {
		h, err := need(off, recHeader)
		if err != nil {
			return nil, 0, err
		}
		length := int64(binary.LittleEndian.Uint32(h[4:]))
		if binary.LittleEndian.Uint32(h) != recMagic || off+recHeader+length > size {
			off = roundUp(off + 1)
			continue
		}
		rec, err := need(off, int(recHeader+length))
		if err != nil {
			return nil, 0, err
		}
		if rec == nil || crc32.Checksum(rec[12:], crcTable) != binary.LittleEndian.Uint32(rec[8:]) {
			damaged++
			off = roundUp(off + 1)
			continue
		}
		id := int64(binary.LittleEndian.Uint64(rec[12:]))
		end := off + recHeader + length
		if id > folded {
			ql := int64(binary.LittleEndian.Uint32(rec[28:]))
			kl := int64(binary.LittleEndian.Uint32(rec[32:]))
			p := rec[recHeader:]
			if ql+kl > length {
				damaged++
				off = roundUp(off + 1)
				continue
			}
			recs = append(recs, logRecord{id: id, end: end, raw: callback.Raw{
				ReceivedAt: fromNanos(int64(binary.LittleEndian.Uint64(rec[20:]))),
				Query:      string(p[:ql]),
				Body:       bytes.Clone(p[ql : length-kl]),
				DedupKey:   string(p[length-kl:]),
			}})
		}
		off = end
	}
	slices.SortFunc(recs, func(a, b logRecord) int { return int(a.id - b.id) })
	recs = slices.CompactFunc(recs, func(a, b logRecord) bool { return a.id == b.id })
	return recs, damaged, nil
}

func roundUp(off int64) int64 { return (off + logPage - 1) / logPage * logPage }

// encodedLen is the log space raw takes, without padding.
func encodedLen(raw callback.Raw) int64 {
	return int64(recHeader + len(raw.Query) + len(raw.Body) + len(raw.DedupKey))
}

// write appends the entries (ids from first on) as one commit and syncs
// them. folded is the id up to which entries are safely in the database:
// the space of older commits is reused only up to it.
func (l *ackLog) write(raws []callback.Raw, first, folded int64) error {
	l.buf = l.buf[:0]
	for i, raw := range raws {
		l.buf = appendRecord(l.buf, first+int64(i), raw)
	}
	n := roundUp(int64(len(l.buf)))
	if n > l.size-logPage {
		return errLogFull
	}
	l.buf = append(l.buf, make([]byte, n-int64(len(l.buf)))...)
	start := l.pos
	if start+n > l.size {
		start = logPage
	}
	i := 0
	for i < len(l.extents) && l.extents[i].last <= folded {
		i++
	}
	l.extents = l.extents[i:]
	for _, e := range l.extents {
		if start < e.end && e.start < start+n {
			return errLogFull
		}
	}
	if _, err := l.f.WriteAt(l.buf, start); err != nil {
		return fmt.Errorf("store: write %s: %w", l.path, err)
	}
	if l.sync {
		if err := datasync(l.f); err != nil {
			return fmt.Errorf("store: sync %s: %w", l.path, err)
		}
	}
	if start < l.dropped || start+n-l.dropped >= dropEvery {
		dropCache(l.f)
		l.dropped = start + n
	}
	l.extents = append(l.extents, extent{start, start + n, first + int64(len(raws)) - 1})
	l.pos = start + n
	return nil
}

// used is how much of the log waits to be folded.
func (l *ackLog) used() int64 {
	var n int64
	for _, e := range l.extents {
		n += e.end - e.start
	}
	return n
}

func appendRecord(dst []byte, id int64, raw callback.Raw) []byte {
	at := len(dst)
	length := len(raw.Query) + len(raw.Body) + len(raw.DedupKey)
	dst = binary.LittleEndian.AppendUint32(dst, recMagic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(length))
	dst = binary.LittleEndian.AppendUint32(dst, 0) // CRC, below
	dst = binary.LittleEndian.AppendUint64(dst, uint64(id))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(nanos(raw.ReceivedAt)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(raw.Query)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(raw.DedupKey)))
	dst = append(dst, raw.Query...)
	dst = append(dst, raw.Body...)
	dst = append(dst, raw.DedupKey...)
	binary.LittleEndian.PutUint32(dst[at+8:], crc32.Checksum(dst[at+12:], crcTable))
	return dst
}

// check reports whether the log file is still the one opened.
func (l *ackLog) check() error {
	fi, err := os.Stat(l.path)
	if err != nil || !os.SameFile(fi, l.id) {
		return errors.New(l.path + " was deleted or replaced while open")
	}
	return nil
}

// openLog opens the acknowledgement log and folds into the database what
// it holds that the database does not: callbacks acknowledged before a
// crash or a kill.
func (s *Store) openLog(ctx context.Context, size int64) error {
	key, err := s.Key(ctx, logKeyName)
	if err != nil {
		return err
	}
	var folded int64
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&folded); err != nil {
		return fmt.Errorf("store: %w", s.observe(err))
	}
	l, recs, damaged, err := openAckLog(filepath.Join(filepath.Dir(s.path), LogFileName), size, key, s.journalSync == "FULL", folded)
	if err != nil {
		return err
	}
	s.log = l
	if damaged > 0 {
		s.logger.Warn("journal log: damaged records skipped; a write cut short by a crash leaves one, and was not acknowledged", "records", damaged)
	}
	s.nextID = folded + 1
	if len(recs) > 0 {
		entries := make([]pendingEntry, len(recs))
		for i, r := range recs {
			entries[i] = pendingEntry{r.id, r.raw}
		}
		if err := s.insertEntries(entries); err != nil {
			return err
		}
		s.nextID = recs[len(recs)-1].id + 1
		s.logger.Info("acknowledged callbacks read back from the journal log", "entries", len(recs), "first_id", recs[0].id)
	}
	if l.resize {
		if err := l.initialize(key); err != nil {
			return err
		}
	}
	s.folded.Store(s.nextID - 1)
	return nil
}
