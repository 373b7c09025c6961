// Package store is imalert's durable state: one embedded SQLite database
// (modernc.org/sqlite, pure Go, WAL) under data_dir. It holds the journal of
// acknowledged callbacks, the outbox of notifications with their delivery
// history, the throttle windows and the digest accumulators.
//
// All writes go through a single connection, so transactions never contend
// inside SQLite; journal appends from concurrent requests share one commit
// (group commit). Readers use separate connections and never block the
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
	Exclusive bool
	// MaxBatch bounds the journal appends sharing one commit; default 1024.
	MaxBatch   int
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

	maxBatch int
	appends  chan *appendReq
	appended chan struct{} // signalled after each journal commit
	done     chan struct{} // closed when the journal writer has stopped

	committed     chan struct{} // signalled after each write transaction
	stopCheckpt   chan struct{}
	checkpointerr chan struct{} // closed when the checkpointer has stopped

	mu     sync.RWMutex // Append holds it shared, Close exclusively
	closed bool

	stmtMu sync.Mutex
	stmts  map[stmtKey]*sql.Stmt

	lock *os.File // held while open, with Exclusive
}

type stmtKey struct {
	db    *sql.DB
	query string
}

// prepare returns a prepared statement for query on db, prepared once:
// SQLite's parser is a noticeable share of the CPU of a short transaction.
// Use it only for queries from a fixed set.
func (s *Store) prepare(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	k := stmtKey{db, query}
	if st, ok := s.stmts[k]; ok {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if s.stmts == nil {
		s.stmts = map[stmtKey]*sql.Stmt{}
	}
	s.stmts[k] = st
	return st, nil
}

// Writer statements prepared at Open: the writer's only connection is
// busy inside a transaction, so they cannot be prepared on demand.
const (
	qInsertEvent        = `INSERT INTO events (received_at, query, body) VALUES (?, ?, ?)`
	qMarkProcessed      = `UPDATE events SET processed_at = ? WHERE id > ? AND id <= ? AND processed_at IS NULL`
	qInsertNotification = `INSERT INTO notifications (uid, receiver, rule, group_key, event_id, created_at, state, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qUpsertWindow       = `INSERT INTO windows (key, keep_until, data) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET keep_until = excluded.keep_until, data = excluded.data`
)

var writerStatements = []string{qInsertEvent, qMarkProcessed, qInsertNotification, qUpsertWindow}

// txStmt returns query, one of writerStatements, for tx.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	st, ok := s.stmts[stmtKey{s.w, query}]
	s.stmtMu.Unlock()
	if !ok {
		return tx.PrepareContext(ctx, query)
	}
	return tx.StmtContext(ctx, st), nil
}

// Open opens (creating if needed) the database in o.Dir.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
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
	opened := false
	s := &Store{
		path:        path,
		logger:      o.Logger,
		metrics:     newMetrics(o.Registerer),
		maxBatch:    o.MaxBatch,
		journalSync: sync,
		appended:    make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	if o.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	} else if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if o.Exclusive && !o.ReadOnly {
		lock, err := lockDir(o.Dir)
		if err != nil {
			return nil, err
		}
		s.lock = lock
		defer func() {
			if !opened {
				_ = lock.Close()
			}
		}()
	}
	// busy_timeout matters only for other processes (the CLI reading next to
	// the daemon): inside the daemon there is one writer connection.
	common := "?_busy_timeout=10000"
	var err error
	if !o.ReadOnly {
		// Commits never checkpoint: a checkpoint writes and syncs the
		// database file, and on a busy disk that can take long enough to
		// hold up the answers waiting on a journal commit. The
		// checkpointer does it in the background on its own connection.
		s.w, err = sql.Open("sqlite", path+common+"&_journal_mode=WAL&_synchronous="+sync+"&_txlock=immediate"+
			"&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)")
		if err != nil {
			return nil, fmt.Errorf("store: open: %w", err)
		}
		s.w.SetMaxOpenConns(1)
		s.w.SetMaxIdleConns(1)
		s.w.SetConnMaxLifetime(0)
		s.w.SetConnMaxIdleTime(0)
		if err := migrate(ctx, s.w); err != nil {
			_ = s.w.Close()
			return nil, err
		}
	}
	s.r, err = sql.Open("sqlite", path+common+"&_query_only=1")
	if err != nil {
		if s.w != nil {
			_ = s.w.Close()
		}
		return nil, fmt.Errorf("store: open: %w", err)
	}
	s.r.SetMaxOpenConns(4)
	s.r.SetMaxIdleConns(4)
	if o.ReadOnly {
		var v int
		if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			_ = s.r.Close()
			return nil, fmt.Errorf("store: %s: %w", path, err)
		}
		if v != schemaVersion {
			_ = s.r.Close()
			return nil, fmt.Errorf("store: %s: schema version %d, want %d", path, v, schemaVersion)
		}
		s.closed = true // no appends
		close(s.done)
		return s, nil
	}
	for _, q := range writerStatements {
		if _, err := s.prepare(ctx, s.w, q); err != nil {
			_ = s.w.Close()
			_ = s.r.Close()
			return nil, fmt.Errorf("store: prepare: %w", err)
		}
	}
	s.c, err = sql.Open("sqlite", path+common+"&_synchronous="+sync)
	if err != nil {
		_ = s.w.Close()
		_ = s.r.Close()
		return nil, fmt.Errorf("store: open: %w", err)
	}
	s.c.SetMaxOpenConns(1)
	s.metrics.register(o.Registerer, s)
	s.appends = make(chan *appendReq, o.MaxBatch)
	s.committed = make(chan struct{}, 1)
	s.stopCheckpt = make(chan struct{})
	s.checkpointerr = make(chan struct{})
	go s.journalWriter()
	go s.checkpointer()
	opened = true
	return s, nil
}

// begin starts a write transaction on the writer connection with the
// given synchronous mode. The mode is set per transaction, on the pinned
// connection: journal commits use the configured mode (FULL by default:
// an acknowledged callback survives power loss), the outbox's own commits
// use NORMAL. Those cannot lose an acknowledged callback: the write-ahead
// log is sequential, so the next journal commit's sync covers them, and a
// power loss before it can only undo processing marks, which causes
// repeated processing (a duplicate page), never a lost one.
func (s *Store) begin(ctx context.Context, sync string) (*sql.Conn, *sql.Tx, error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = "+sync); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return conn, tx, nil
}

// checkpointEvery is how often the checkpointer folds the write-ahead log
// into the database when there were writes.
const checkpointEvery = time.Second

// checkpointer runs passive checkpoints, which never block the writer, so
// the write-ahead log stays short.
func (s *Store) checkpointer() {
	defer close(s.checkpointerr)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	dirty := false
	for {
		select {
		case <-s.stopCheckpt:
			return
		case <-s.committed:
			dirty = true
		case <-t.C:
			if !dirty {
				continue
			}
			dirty = false
			if _, err := s.c.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
				s.logger.Warn("checkpoint failed", "err", err)
			}
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
// it holds, and closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.appends)
	}
	s.mu.Unlock()
	<-s.done
	var errs []error
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	s.stmts = nil
	s.stmtMu.Unlock()
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

const schemaVersion = 1

// schema is the whole database. Times are Unix nanoseconds, 0 for none.
const schema = `
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

func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if v > schemaVersion {
		return fmt.Errorf("store: database schema version %d is newer than this imalert (%d)", v, schemaVersion)
	}
	if _, err := db.ExecContext(ctx, schema+traceSchema+silencesSchema+summariesSchema+budgetsSchema+keysSchema); err != nil {
		return fmt.Errorf("store: create schema: %w", err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("store: %w", err)
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
	ID          int64
	Raw         callback.Raw
	ProcessedAt time.Time // zero while unprocessed
}

// Parse re-parses the entry with the current parser.
func (e *Event) Parse(lim callback.Limits) (*callback.Event, error) {
	return e.Raw.Parse(lim)
}
