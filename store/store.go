// Package store is imalert's durable state: one embedded SQLite database
// (modernc.org/sqlite, pure Go, WAL) under data_dir. It holds the journal of
// acknowledged callbacks, the outbox of notifications with their delivery
// history, the throttle windows and the digest accumulators.
//
// Journal appends from concurrent requests share one commit (group
// commit) into the acknowledgement log (journal.log, see LogFileName),
// from which they are moved into the database in batches. All database
// writes go through a single connection, so transactions never contend
// inside SQLite. Readers use separate connections and never block the
// writer (WAL).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/imalert/imalert/callback"
)

// FileName is the database file inside data_dir. SQLite keeps FileName-wal
// and FileName-shm beside it while the database is open.
const FileName = "imalert.db"

// Sync modes: how hard a commit waits for the disk.
const (
	// SyncFull makes every commit durable across power loss (fsync of the
	// write-ahead log at each commit). The default.
	SyncFull = "full"
	// SyncNormal makes commits durable across a crash of imalert itself
	// (kill -9), but the last commits may be lost if the machine loses
	// power; it skips the fsync at commit.
	SyncNormal = "normal"
)

// DefaultWALCeiling is the default Options.WALCeiling: 64 MiB.
const DefaultWALCeiling = 64 << 20

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("store: closed")

// Options configure Open.
type Options struct {
	// Dir is the data directory; it is created if missing.
	Dir string
	// Sync is SyncFull (default) or SyncNormal.
	Sync string
	// ReadOnly opens an existing database for reading only, as the CLI
	// does next to a running daemon. No journal writer is started.
	ReadOnly bool
	// Exclusive locks the data directory: a second Open with Exclusive
	// fails while the first is open. serve sets it; the CLI does not.
	// Only an Exclusive store has the acknowledgement log and gives
	// journal ids itself: a store opened without it beside a running
	// daemon must not Append.
	Exclusive bool
	// MaxBatch bounds the journal appends sharing one commit; default 1024.
	MaxBatch int
	// WALCeiling bounds the write-ahead log's size on disk, in bytes;
	// default DefaultWALCeiling. Past a quarter of it the checkpointer
	// restarts the log, which briefly holds up writes.
	WALCeiling int64
	// CheckBeforeOpenBytes: a database up to this size is integrity-checked
	// before Open returns, a larger one in the background (the check reads
	// every page); default DefaultCheckBeforeOpenBytes.
	CheckBeforeOpenBytes int64
	// LogBytes is the size of the acknowledgement log (see LogFileName);
	// default DefaultLogBytes. Only an Exclusive store has one.
	LogBytes int64
	// CheckDelay postpones the background check, so that it does not slow
	// start-up down: serve reads the journal's recent entries meanwhile.
	CheckDelay time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Store is an open database.
type Store struct {
	path    string
	w       *sql.DB // one connection: every write
	r       *sql.DB // readers
	c       *sql.DB // one connection: background checkpoints
	logger  *slog.Logger
	metrics *metrics

	// journalSync is the synchronous mode of journal commits; other
	// commits use NORMAL (see Store.begin).
	journalSync string
	// wSync is the writer connection's synchronous mode; only the holder
	// of that one connection reads or writes it.
	wSync string

	maxBatch   int
	walCeiling int64
	checkMax   int64
	checkDelay time.Duration
	appends    chan *appendReq
	appended   chan struct{} // signalled after journal commits (see Appended)
	// lastSignal is when Appended was last signalled (or will be, with
	// signalDue): the journal writer's own.
	lastSignal time.Time
	signalDue  atomic.Bool
	done       chan struct{} // closed when the journal writer has stopped

	committed     chan struct{} // signalled after each write transaction
	urgent        chan struct{} // signalled when the write-ahead log passed its soft limit
	stopCheckpt   chan struct{}
	checkpointerr chan struct{} // closed when the checkpointer has stopped

	mu     sync.RWMutex // Append holds it shared, Close exclusively
	closed bool

	stmtMu sync.Mutex
	stmts  map[stmtKey]*sql.Stmt
	// unprepared are writer statements run unprepared inside a
	// transaction, to be prepared at the next begin.
	unprepared map[string]bool

	lock *os.File // held while open, with Exclusive

	files    *fileIDs              // the files as opened, to notice a replacement
	broken   atomic.Pointer[error] // set once: see Err
	bg       sync.WaitGroup        // the background integrity check
	bgCancel context.CancelFunc
	checking atomic.Bool // the background integrity check is running
	walPeak  atomic.Int64
	walNow   atomic.Int64
	// walRestarted is the write-ahead log file's size right after a
	// restarting checkpoint: the file keeps it until the next write trims
	// it, but holds nothing to checkpoint meanwhile.
	walRestarted atomic.Int64

	// The acknowledgement log (nil without Exclusive): the journal
	// writer's own, with nextID and raws.
	log    *ackLog
	nextID int64
	raws   []callback.Raw
	// folded is the id up to which logged entries are in the database.
	folded atomic.Int64
	// through is the processing cursor as this process last committed it
	// (0 until then).
	through atomic.Int64
	// pending are the logged entries not yet in the database, by id.
	pendMu  sync.Mutex
	pending []pendingEntry
	// foldMu orders folds, and guards foldFailing.
	foldMu      sync.Mutex
	foldFailing bool
	foldNow     chan struct{}
	stopFold    chan struct{}
	folderDone  chan struct{}

	closeOnce sync.Once
	closeErr  error
}

type stmtKey struct {
	db    *sql.DB
	query string
}

// prepare returns a prepared statement for query on db, prepared once:
// SQLite's parser is a noticeable share of the CPU of a short transaction.
// Use it only for queries from a fixed set.
//
// stmtMu is not held while preparing: that waits for a connection, and
// the writer's holder takes stmtMu for its statements (txStmt).
func (s *Store) prepare(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	k := stmtKey{db, query}
	s.stmtMu.Lock()
	st, ok := s.stmts[k]
	s.stmtMu.Unlock()
	if ok {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, s.observe(err)
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if prev, ok := s.stmts[k]; ok { // prepared meanwhile by another caller
		_ = st.Close()
		return prev, nil
	}
	if s.stmts == nil {
		s.stmts = map[stmtKey]*sql.Stmt{}
	}
	s.stmts[k] = st
	return st, nil
}

// Writer statements run for every callback or batch. Like every constant
// statement run through txStmt, each is prepared on the writer before the
// transaction after its first use.
const (
	qInsertEvent        = `INSERT INTO events (received_at, query, body, dedup_key) VALUES (?, ?, ?, ?)`
	qInsertEventID      = `INSERT INTO events (id, received_at, query, body, dedup_key) VALUES (?, ?, ?, ?, ?)`
	qMarkProcessed      = `UPDATE progress SET through = ?, processed_at = ? WHERE id = 1 AND through < ?`
	qInsertNotification = `INSERT INTO notifications (uid, receiver, rule, group_key, event_id, created_at, state, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qUpsertWindow       = `INSERT INTO windows (key, keep_until, data) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET keep_until = excluded.keep_until, data = excluded.data`
)

// txStmt returns query, a constant, prepared for tx. The writer's only
// connection is busy inside tx: a query not prepared yet is prepared for
// tx alone, and on the writer at the next begin.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	st, ok := s.stmts[stmtKey{s.w, query}]
	if !ok {
		if s.unprepared == nil {
			s.unprepared = map[string]bool{}
		}
		s.unprepared[query] = true
	}
	s.stmtMu.Unlock()
	if !ok {
		return tx.PrepareContext(ctx, query)
	}
	return tx.StmtContext(ctx, st), nil
}

// exec runs query, a constant, in tx, prepared once: parsing the SQL
// was a quarter of the CPU of recording a delivery.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// short detaches ctx from its end, for a statement or a transaction that
// takes milliseconds and runs for every callback or page: under a context
// that can end, the driver starts a goroutine to watch it for each
// statement, and database/sql one for each transaction.
func short(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// prepareWriter prepares on the writer the statements txStmt met
// unprepared. The caller must not hold the writer's connection.
func (s *Store) prepareWriter(ctx context.Context) {
	s.stmtMu.Lock()
	qs := s.unprepared
	s.unprepared = nil
	s.stmtMu.Unlock()
	for q := range qs {
		_, _ = s.prepare(ctx, s.w, q) // else prepared for each transaction
	}
}

// Open opens (creating if needed) the database in o.Dir. A database that
// fails its integrity check is refused with an error wrapping ErrBroken.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.WALCeiling <= 0 {
		o.WALCeiling = DefaultWALCeiling
	}
	if o.LogBytes <= 0 {
		o.LogBytes = DefaultLogBytes
	}
	if o.LogBytes < 16*logPage {
		return nil, fmt.Errorf("store: log of %d bytes is too small", o.LogBytes)
	}
	o.LogBytes = roundUp(o.LogBytes)
	if o.CheckBeforeOpenBytes <= 0 {
		o.CheckBeforeOpenBytes = DefaultCheckBeforeOpenBytes
	}
	sync := "FULL"
	switch o.Sync {
	case "", SyncFull:
	case SyncNormal:
		sync = "NORMAL"
	default:
		return nil, fmt.Errorf("store: unknown sync mode %q", o.Sync)
	}
	if o.Dir == "" {
		return nil, errors.New("store: no data directory")
	}
	path := filepath.Join(o.Dir, FileName)
	s := &Store{
		path:        path,
		logger:      o.Logger,
		metrics:     newMetrics(o.Registerer),
		maxBatch:    o.MaxBatch,
		walCeiling:  o.WALCeiling,
		checkMax:    o.CheckBeforeOpenBytes,
		checkDelay:  o.CheckDelay,
		journalSync: sync,
		appended:    make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	if o.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return s.openReadOnly(ctx)
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := s.openWriter(ctx, o.Exclusive); err != nil {
		s.closeDBs()
		return nil, err
	}
	if o.Exclusive {
		if err := s.openLog(ctx, o.LogBytes); err != nil {
			s.closeDBs()
			return nil, err
		}
	}
	s.metrics.register(o.Registerer, s)
	s.appends = make(chan *appendReq, o.MaxBatch)
	s.committed = make(chan struct{}, 1)
	s.urgent = make(chan struct{}, 1)
	s.stopCheckpt = make(chan struct{})
	s.checkpointerr = make(chan struct{})
	s.foldNow = make(chan struct{}, 1)
	s.stopFold = make(chan struct{})
	s.folderDone = make(chan struct{})
	go s.journalWriter()
	go s.checkpointer()
	if s.log != nil {
		go s.folder()
	} else {
		close(s.folderDone)
	}
	return s, nil
}

// pageSize is the page size of a new database (an existing one keeps
// its own). Every commit writes whole pages: the journal's last page, the
// pages of the decision state it changed. 2 KiB pages halve what a small
// commit writes against SQLite's default 4 KiB, and still hold two or three
// callbacks each, so the journal takes no more room.
const pageSize = 2048

// busy_timeout matters only for other processes (the CLI reading next to
// the daemon) and for checkpoints that wait for readers: inside the daemon
// there is one writer connection.
const dsnCommon = "?_busy_timeout=10000"

// readerCache bounds each of the daemon's four reader connections' page
// cache to 512 KiB (SQLite's default is 2 MiB, outside the Go heap and its
// memory limit): what they read again soon (the journal's newest
// entries, the outbox's pending rows) is small, and the rest is in the
// kernel's cache.
const readerCache = "&_pragma=cache_size(-512)"

func (s *Store) openReadOnly(ctx context.Context) (*Store, error) {
	var err error
	if s.r, err = sql.Open("sqlite", s.path+dsnCommon+"&_query_only=1"); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	s.r.SetMaxOpenConns(4)
	s.r.SetMaxIdleConns(4)
	var v int
	if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		_ = s.r.Close()
		return nil, fmt.Errorf("store: %s: %w", s.path, err)
	}
	if v < 1 || v > schemaVersion {
		_ = s.r.Close()
		return nil, fmt.Errorf("store: %s: schema version %d, want 1 to %d", s.path, v, schemaVersion)
	}
	s.closed = true // no appends
	close(s.done)
	return s, nil
}

// openWriter locks the database, checks it, migrates it and opens the
// writer, checkpoint and reader connections.
func (s *Store) openWriter(ctx context.Context, exclusive bool) error {
	if exclusive {
		lock, err := lockFile(s.path)
		if err != nil {
			return err
		}
		s.lock = lock
	}
	// Commits never checkpoint: a checkpoint writes and syncs the database
	// file, and on a busy disk that can take long enough to hold up the
	// answers waiting on a journal commit. The checkpointer does it on its
	// own connection. journal_size_limit trims the write-ahead log back
	// when it restarts.
	var err error
	s.w, err = sql.Open("sqlite", s.path+dsnCommon+"&_journal_mode=WAL&_synchronous="+s.journalSync+"&_txlock=immediate"+
		fmt.Sprintf("&_pragma=page_size(%d)&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(%d)", pageSize, s.walCeiling/4))
	if err != nil {
		return fmt.Errorf("store: open: %w", err)
	}
	s.wSync = s.journalSync // the DSN's: a connection opened again starts with it too
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	// The checkpointer waits at most 100ms for the writer and the readers:
	// a restarting checkpoint holds writes back while it waits.
	if s.c, err = sql.Open("sqlite", s.path+"?_busy_timeout=100&_synchronous="+s.journalSync); err != nil {
		return fmt.Errorf("store: open: %w", err)
	}
	s.c.SetMaxOpenConns(1)
	background := false
	if fi, err := os.Stat(s.path); err == nil && fi.Size() > s.checkMax {
		background = true
	} else if err := s.quickCheck(ctx, s.c); err != nil {
		return s.damaged(err)
	}
	if err := migrate(ctx, s.w); err != nil {
		if s.observe(err); s.Err() != nil {
			return s.damaged(err)
		}
		return err
	}
	if s.r, err = sql.Open("sqlite", s.path+dsnCommon+"&_query_only=1"+readerCache); err != nil {
		return fmt.Errorf("store: open: %w", err)
	}
	s.r.SetMaxOpenConns(4)
	s.r.SetMaxIdleConns(4)
	if err := s.identify(); err != nil {
		return err
	}
	if background {
		s.checkInBackground()
	}
	return nil
}

// checkInBackground runs the integrity check of a database too large to
// check before Open returns; a failure breaks the store.
func (s *Store) checkInBackground() {
	ctx, cancel := context.WithCancel(context.Background())
	s.bgCancel = cancel
	s.bg.Add(1)
	s.checking.Store(true)
	go func() {
		defer s.bg.Done()
		defer s.checking.Store(false)
		if s.checkDelay > 0 {
			t := time.NewTimer(s.checkDelay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		start := time.Now()
		err := s.quickCheck(ctx, s.r)
		if ctx.Err() != nil {
			return // closed meanwhile
		}
		if err != nil {
			s.fail(err.Error())
			return
		}
		s.logger.Info("integrity check passed", "duration", time.Since(start))
	}()
}

// damaged is the error of a database refused at open: it says what to do.
func (s *Store) damaged(err error) error {
	return fmt.Errorf("%w: %w; move %s and its -wal and -shm files aside (or restore them from a backup) to start", ErrBroken, err, s.path)
}

// closeDBs closes what openWriter opened, after a failure.
func (s *Store) closeDBs() {
	for _, db := range []*sql.DB{s.w, s.c, s.r} {
		if db != nil {
			_ = db.Close()
		}
	}
	if s.lock != nil {
		_ = s.lock.Close()
	}
	if s.log != nil {
		_ = s.log.f.Close()
	}
}

// begin starts a write transaction on the writer connection with the
// given synchronous mode. The mode is set per transaction, on the pinned
// connection: journal commits use the configured mode (FULL by default:
// an acknowledged callback survives power loss), the outbox's own commits
// use NORMAL. Those cannot lose an acknowledged callback: the write-ahead
// log is sequential, so the next journal move's sync covers them, and a
// power loss before it can only undo processing marks, which causes
// repeated processing (a duplicate page), never a lost one.
func (s *Store) begin(ctx context.Context, sync string) (*sql.Conn, *sql.Tx, error) {
	s.prepareWriter(ctx)
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if s.walPast(s.walNow.Load(), s.walCeiling/2) {
		// The checkpointer has not kept up: restart the log before
		// writing more, holding this write up instead of passing the
		// ceiling.
		s.restart(ctx, conn)
	}
	if s.wSync != sync {
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = "+sync); err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
		s.wSync = sync
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return conn, tx, nil
}

// The checkpointer looks at the files every filesEvery, and when there
// were writes folds the write-ahead log into the database every
// checkpointEvery: a page written again and again in between (the
// journal's last page, decision state) goes to the database file once.
const (
	filesEvery      = 200 * time.Millisecond
	checkpointEvery = time.Second
)

// checkpointer keeps the write-ahead log short. A passive checkpoint never
// blocks the writer, but under a steady stream of commits it never catches
// up with the end of the log either, and the log only restarts from its
// beginning once a checkpoint has caught up: left to passive checkpoints,
// a storm grows it without bound. So once the log passes a quarter of its
// ceiling, a RESTART checkpoint holds writes back for the little the last
// passive one left over, and the next commit starts the log afresh
// (journal_size_limit then trims the file). It also notices, without
// traffic, a database file deleted or replaced.
func (s *Store) checkpointer() {
	defer close(s.checkpointerr)
	t := time.NewTicker(filesEvery)
	defer t.Stop()
	dirty := false
	last := time.Now()
	for {
		select {
		case <-s.stopCheckpt:
			return
		case <-s.committed:
			dirty = true
			continue
		case <-s.urgent:
			s.checkpoint(true)
		case <-t.C:
			if s.checkFiles() != nil {
				continue
			}
			if dirty && time.Since(last) >= checkpointEvery {
				dirty, last = false, time.Now()
				s.checkpoint(false)
			}
		}
	}
}

// checkpoint runs a passive checkpoint, and a restarting one if the log
// is past its soft limit (or urgent says so).
func (s *Store) checkpoint(urgent bool) {
	if s.Err() != nil {
		return
	}
	if err := s.runCheckpoint(context.Background(), s.c, "PASSIVE"); err != nil {
		return
	}
	limit := s.walCeiling / 4
	if urgent {
		limit = -1
	}
	if !s.walPast(s.walSize(), limit) {
		return
	}
	if s.checking.Load() {
		return // the background integrity check holds a snapshot: a restart would wait for it
	}
	s.restart(context.Background(), s.w)
}

// walPast reports whether a write-ahead log file of n bytes is longer than
// limit and holds frames: right after a restart the file keeps its size
// until the next write trims it, with nothing in it to checkpoint.
func (s *Store) walPast(n, limit int64) bool {
	return n > limit && n != s.walRestarted.Load()
}

// restart runs a restarting checkpoint on db (the writer's connection).
func (s *Store) restart(ctx context.Context, db queryRower) {
	if s.runCheckpoint(ctx, db, "RESTART") == nil {
		// The write-ahead log's cached pages are kept: a frame written
		// over a page dropped from the cache made the kernel read that
		// page from the disk first (frames are not page-aligned), inside
		// the writer's transaction. Dropping them wrote no fewer bytes.
		s.walRestarted.Store(s.walSize())
	}
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// runCheckpoint runs a checkpoint on db. A restarting one runs on the
// writer's own connection, between two write transactions: from another
// connection it would have to catch the write lock free, which a busy
// writer seldom leaves it.
func (s *Store) runCheckpoint(ctx context.Context, db queryRower, mode string) error {
	var busy, logFrames, done int
	start := time.Now()
	err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &done)
	s.metrics.checkpointDuration.WithLabelValues(mode).Observe(time.Since(start).Seconds())
	result := "ok"
	switch {
	case err != nil:
		result = "error"
		s.logger.Warn("checkpoint failed", "mode", mode, "err", s.observe(err))
	case busy != 0:
		result = "busy"
	}
	s.metrics.checkpoints.WithLabelValues(mode, result).Inc()
	return err
}

// walSize returns the write-ahead log's size and records it.
func (s *Store) walSize() int64 {
	fi, err := os.Stat(s.path + "-wal")
	if err != nil {
		return 0
	}
	s.noteWAL(fi.Size())
	return fi.Size()
}

func (s *Store) noteWAL(n int64) {
	s.walNow.Store(n)
	s.metrics.walBytes.Set(float64(n))
	for {
		p := s.walPeak.Load()
		if n <= p || s.walPeak.CompareAndSwap(p, n) {
			return
		}
	}
}

// wrote tells the checkpointer there is something to checkpoint.
func (s *Store) wrote() {
	select {
	case s.committed <- struct{}{}:
	default:
	}
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close stops taking appends, waits for the journal writer to commit what
// it holds, and closes the database. Later calls return the first's error.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.appends)
	}
	s.mu.Unlock()
	<-s.done
	var errs []error
	if s.log != nil {
		close(s.stopFold)
		<-s.folderDone
		if err := s.settle(); err != nil {
			errs = append(errs, err) // the entries stay in the log for the next start
		}
		errs = append(errs, s.log.f.Close())
	}
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	if s.bgCancel != nil {
		s.bgCancel()
	}
	s.bg.Wait()
	if s.c != nil {
		close(s.stopCheckpt)
		<-s.checkpointerr
		errs = append(errs, s.c.Close())
	}
	if s.w != nil {
		// Fold the write-ahead log into the database so the file is whole.
		if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, s.w.Close())
	}
	errs = append(errs, s.r.Close())
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

const schemaVersion = 2

// schema is the whole database. Times are Unix nanoseconds, 0 for none.
//
// The journal has no index but its id: entries are committed in the order
// they are received, give or take a request's time in the handler, so a
// time is found by a binary search on id (see idReceivedFrom), and every
// commit writes one index page less.
//
// Journal entries are processed in id order, so what is processed is one
// cursor (progress.through), moved by each processing commit: marking
// entries processed rewrites one small row, not the journal's pages. Ids
// are never reused (the retention sweep keeps the newest entry), so an
// entry appended later is always past the cursor. Version 1 databases keep
// their events table (AUTOINCREMENT, a processed_at column no longer
// written) and get the cursor at migration.
const schema = `
CREATE TABLE IF NOT EXISTS events (
	id           INTEGER PRIMARY KEY,
	received_at  INTEGER NOT NULL,
	query        TEXT    NOT NULL,
	body         BLOB    NOT NULL,
	dedup_key    TEXT
);

CREATE TABLE IF NOT EXISTS progress (
	id           INTEGER PRIMARY KEY CHECK (id = 1),
	through      INTEGER NOT NULL,
	processed_at INTEGER NOT NULL
);

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

// fromV1 turns version 1's per-entry processed_at marks into the cursor:
// entries were processed in id order, so the unprocessed ones (found
// through their partial index) are the tail.
const fromV1 = `
INSERT OR IGNORE INTO progress (id, through, processed_at) VALUES (1,
	coalesce((SELECT min(id) - 1 FROM events WHERE processed_at IS NULL), (SELECT max(id) FROM events), 0), 0);
ALTER TABLE events ADD COLUMN dedup_key TEXT;
DROP INDEX IF EXISTS events_unprocessed;
DROP INDEX IF EXISTS events_received;
DROP INDEX IF EXISTS windows_keep;
`

func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if v > schemaVersion {
		return fmt.Errorf("store: database schema version %d is newer than this imalert (%d)", v, schemaVersion)
	}
	// Tables added since without a schema version of their own are
	// created when missing.
	extras := traceSchema + silencesSchema + summariesSchema + budgetsSchema + keysSchema
	if v == schemaVersion {
		if _, err := db.ExecContext(ctx, extras); err != nil {
			return fmt.Errorf("store: create schema: %w", err)
		}
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	steps := []string{schema, extras}
	if v == 1 {
		steps = append(steps, fromV1)
	}
	steps = append(steps, `INSERT OR IGNORE INTO progress (id, through, processed_at) VALUES (1, 0, 0)`,
		fmt.Sprintf("PRAGMA user_version = %d", schemaVersion))
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: migrate from version %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// nanos and fromNanos convert times for storage; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Event is one journal entry.
type Event struct {
	ID  int64
	Raw callback.Raw
	// ProcessedAt is zero while the entry is unprocessed. Once processed,
	// it is the time of the processing commit that last moved the cursor
	// past it (the store keeps one cursor, not a time per entry).
	ProcessedAt time.Time
}

// Parse re-parses the entry with the current parser.
func (e *Event) Parse(lim callback.Limits) (*callback.Event, error) {
	return e.Raw.Parse(lim)
}
