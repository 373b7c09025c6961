package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/imalert/imalert/callback"
)

type appendReq struct {
	at   time.Time // when it was queued
	raws []callback.Raw
	ids  []int64
	err  error
	done chan struct{}
}

// Append writes raw to the journal and returns its id once the write is
// committed. Concurrent calls share one commit. A callback must be
// acknowledged only after Append returned without error.
func (s *Store) Append(ctx context.Context, raw callback.Raw) (int64, error) {
	ids, err := s.AppendAll(ctx, []callback.Raw{raw})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// AppendAll writes raws to the journal in one transaction, all or none
// (the events of one request), and returns their ids once committed.
func (s *Store) AppendAll(ctx context.Context, raws []callback.Raw) ([]int64, error) {
	if len(raws) == 0 {
		return nil, nil
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	req := &appendReq{at: time.Now(), raws: raws, done: make(chan struct{})}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case s.appends <- req:
	case <-ctx.Done():
		s.mu.RUnlock()
		return nil, fmt.Errorf("store: append: %w", ctx.Err())
	}
	s.mu.RUnlock()
	// Once queued, the outcome is decided by the commit, which is bounded;
	// waiting for it keeps the answer truthful.
	<-req.done
	return req.ids, req.err
}

// Appended is signalled (without blocking, so at most one signal waits)
// after journal commits: at once after a quiet spell, and at most once per
// appendedEvery under a stream of commits. Processing then takes the
// entries in batches rather than a few at a time, and the decision state a
// batch changes is written once per batch: in a storm that state, not the
// journal, is most of what is written to disk.
func (s *Store) Appended() <-chan struct{} { return s.appended }

// appendedEvery spaces the Appended signals under a stream of commits. It
// adds at most this much to the pipeline's lag.
const appendedEvery = 400 * time.Millisecond

// signalAppended signals Appended now, or when appendedEvery has passed
// since the last signal. Only the journal writer calls it.
func (s *Store) signalAppended() {
	if s.signalDue.Load() {
		return // a delayed signal is on its way
	}
	if wait := appendedEvery - time.Since(s.lastSignal); wait > 0 {
		s.signalDue.Store(true)
		time.AfterFunc(wait, func() {
			s.signalDue.Store(false)
			s.sendAppended()
		})
		s.lastSignal = time.Now().Add(wait)
		return
	}
	s.lastSignal = time.Now()
	s.sendAppended()
}

func (s *Store) sendAppended() {
	select {
	case s.appended <- struct{}{}:
	default:
	}
}

// journalWriter commits appends in batches: everything queued while the
// previous commit ran goes into the next one. No timer delays a lone
// request.
func (s *Store) journalWriter() {
	defer close(s.done)
	batch := make([]*appendReq, 0, s.maxBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var lastCommit time.Time
	// concurrent: the last commit was shared, or callbacks arrived while
	// it ran.
	concurrent := false
	var rate streamRate
	for req := range s.appends {
		batch = append(batch[:0], req)
		// While concurrent callbacks stream in, wait a moment for more
		// before committing: each commit's sync and page are then shared
		// by several callbacks instead of paid by each. A lone callback
		// after a quiet spell, or one client's callbacks one at a time,
		// are committed at once.
		var wait <-chan time.Time
		rule := rate.linger()
		if concurrent && time.Since(lastCommit) < streamGap {
			// From when the first was queued: one that waited for the
			// last commit has had part of its wait already.
			linger.Reset(rule.wait - time.Since(req.at))
			wait = linger.C
		}
	fill:
		for len(batch) < s.maxBatch {
			if wait == nil {
				select {
				case r, ok := <-s.appends:
					if !ok {
						break fill
					}
					batch = append(batch, r)
				default:
					break fill
				}
				continue
			}
			if len(batch) >= rule.enough {
				wait = nil // enough to share a commit: do not delay them
				continue
			}
			select {
			case r, ok := <-s.appends:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			case <-wait:
				// Take what is queued already, then commit: select
				// picks at random among ready cases, and a linger that
				// ran out as callbacks arrived left them to the next
				// commit.
				wait = nil
			}
		}
		linger.Stop() // no stale tick to drain since Go 1.23
		s.commitAppends(batch)
		lastCommit, concurrent = time.Now(), len(batch) > 1 || len(s.appends) > 0
		rate.add(lastCommit, len(batch))
	}
}

// streamRate measures the callbacks committed a second, over rateEvery.
type streamRate struct {
	since time.Time
	n     int
	fast  bool // the last measure was at least fastStream
}

const (
	rateEvery  = 250 * time.Millisecond
	fastStream = 1500 // callbacks a second
)

func (r *streamRate) add(now time.Time, n int) {
	r.n += n
	if d := now.Sub(r.since); d >= rateEvery {
		r.fast = float64(r.n) >= fastStream*d.Seconds()
		r.since, r.n = now, 0
	}
}

// lingerRule is how long the journal writer waits for more callbacks
// before a commit, at most, while concurrent callbacks stream in (the last
// commit, less than streamGap ago, was shared, or callbacks queued while
// it ran), and how many end the wait: it adds at most wait to an answer,
// and divides the page written and the sync of a moderate stream by the
// callbacks that share a commit (a commit of one at 1,000/s wrote 4 KiB
// per callback). Once enough share one, the rest of the wait would add
// latency and save little: a flat-out storm commits as fast as it can.
type lingerRule struct {
	wait   time.Duration
	enough int
}

// Each commit writes a 4 KiB page of the log, 4/k KiB per callback for k,
// and wakes the writer, its sync and the callbacks it answers; the store's
// other writes (checkpoints, decision state, deliveries) come at a pace of
// their own, spread over more callbacks the faster they come.
var (
	// At moderate rates, 5 ms for 6: at 1,000/s, against 3 ms for 4, 0.9
	// thread switches per callback fewer, 3 to 9% less CPU and 3.4 instead
	// of 3.8 KiB written per callback, for a p99 of 6.1 ms instead of 4.3,
	// far inside IM's 2 s (the target of 5 ms is at 2,000/s, past
	// fastStream).
	lingerModerate = lingerRule{wait: 5 * time.Millisecond, enough: 6}
	// Past fastStream the log's page is shared by enough callbacks
	// anyway: 3 ms for 3, which come half a millisecond sooner at
	// 2,000/s than 4 (p99 4.3 to 4.6 ms instead of 5.5, 3.5 KiB written
	// per callback instead of 3.2).
	lingerFast = lingerRule{wait: 3 * time.Millisecond, enough: 3}
)

// streamGap is how soon after the last commit a callback must come for
// the writer to linger.
const streamGap = 10 * time.Millisecond

// linger is the rule for the rate last measured.
func (r *streamRate) linger() lingerRule {
	if r.fast {
		return lingerFast
	}
	return lingerModerate
}

func (s *Store) commitAppends(batch []*appendReq) {
	start := time.Now()
	err := s.observe(s.appendBatch(batch))
	s.metrics.commitDuration.Observe(time.Since(start).Seconds())
	events := 0
	for _, r := range batch {
		events += len(r.raws)
	}
	s.metrics.batchSize.Observe(float64(events))
	result := "ok"
	if err != nil {
		result = "error"
		s.logger.Error("journal commit failed", "events", events, "err", err)
	}
	s.metrics.appends.WithLabelValues(result).Add(float64(events))
	for _, r := range batch {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
	if err == nil {
		s.signalAppended()
	}
}

// appendBatch commits the batch: to the acknowledgement log when the store
// has one, else (a CLI next to the daemon, or a batch too large for the
// log) straight into the database.
func (s *Store) appendBatch(batch []*appendReq) error {
	if err := s.Err(); err != nil {
		return err
	}
	if s.log == nil {
		return s.insertEvents(batch)
	}
	s.raws = s.raws[:0]
	var size int64
	for _, r := range batch {
		s.raws = append(s.raws, r.raws...)
		for _, raw := range r.raws {
			size += encodedLen(raw)
		}
	}
	if roundUp(size) > s.log.size/8 {
		s.foldMu.Lock()
		defer s.foldMu.Unlock()
		if err := s.foldLocked(); err != nil {
			return err
		}
		entries := make([]pendingEntry, 0, len(s.raws))
		s.giveIDs(batch, func(e pendingEntry) { entries = append(entries, e) })
		if err := s.insertEntries(entries); err != nil {
			return err
		}
		s.folded.Store(s.nextID - 1)
		return nil
	}
	first := s.nextID
	err := s.log.write(s.raws, first, s.folded.Load())
	if errors.Is(err, errLogFull) {
		// Fold now, in this commit's time, rather than refuse.
		s.foldMu.Lock()
		ferr := s.foldLocked()
		s.foldMu.Unlock()
		if ferr != nil {
			return fmt.Errorf("%w (%w)", err, ferr)
		}
		err = s.log.write(s.raws, first, s.folded.Load())
	}
	if err != nil {
		if !errors.Is(err, errLogFull) {
			// Whatever reached the file may be read back at the next
			// start: these ids are never given again.
			s.nextID += int64(len(s.raws))
		}
		return err
	}
	s.pendMu.Lock()
	s.giveIDs(batch, func(e pendingEntry) { s.pending = append(s.pending, e) })
	s.pendMu.Unlock()
	if s.log.used() > s.log.size/4 {
		s.kickFold()
	}
	// Written into the file opened: if it was deleted or replaced, the
	// entries are not where the next start will look, so the callbacks
	// must not be acknowledged.
	if err := s.log.check(); err != nil {
		return s.fail(err.Error())
	}
	// The database too: entries in the log are read back at the next
	// start only into the database they were written for.
	return s.checkFiles()
}

// giveIDs gives the batch's entries their ids, from nextID on, and hands
// each to add.
func (s *Store) giveIDs(batch []*appendReq, add func(pendingEntry)) {
	for _, r := range batch {
		r.ids = r.ids[:0]
		for _, raw := range r.raws {
			r.ids = append(r.ids, s.nextID)
			add(pendingEntry{s.nextID, raw})
			s.nextID++
		}
	}
}

// pendingEntry is a journal entry in the acknowledgement log, not yet in
// the database.
type pendingEntry struct {
	id  int64
	raw callback.Raw
}

// foldEvery is how often entries acknowledged through the log are moved
// into the database: each move is one transaction, synced, after which
// their log space is free. Processing moves them itself before each read
// (every appendedEvery under a stream), and a log a quarter full is moved
// at once, so this matters only while processing is held up. At 100ms,
// moves of a few dozen entries at 1,000/s cost 3 to 6% more CPU per
// callback than moves of a few hundred.
const foldEvery = appendedEvery

// folder folds the log's entries into the database every foldEvery, and
// at once when the log fills up.
func (s *Store) folder() {
	defer close(s.folderDone)
	t := time.NewTicker(foldEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopFold:
			return
		case <-t.C:
		case <-s.foldNow:
		}
		_ = s.settle()
	}
}

func (s *Store) kickFold() {
	select {
	case s.foldNow <- struct{}{}:
	default:
	}
}

// settle folds the entries waiting in the log, so that what was
// acknowledged can be read from the database. Readers of the journal call
// it first. An error is logged once per run of failures, and the entries
// stay in the log for the next try.
func (s *Store) settle() error {
	s.pendMu.Lock()
	n := len(s.pending)
	s.pendMu.Unlock()
	if n == 0 {
		return nil
	}
	s.foldMu.Lock()
	defer s.foldMu.Unlock()
	err := s.foldLocked()
	switch {
	case err != nil && !s.foldFailing:
		s.foldFailing = true
		s.logger.Error("moving acknowledged callbacks from the journal log into the database failed; they stay in the log, which takes new ones until it is full", "err", err)
	case err == nil && s.foldFailing:
		s.foldFailing = false
		s.logger.Info("journal log entries are moved into the database again")
	}
	return err
}

// foldLocked moves the entries waiting in the log into the database in
// one synced transaction. The caller holds foldMu.
func (s *Store) foldLocked() error {
	s.pendMu.Lock()
	n := len(s.pending)
	entries := s.pending[:n:n]
	s.pendMu.Unlock()
	if n == 0 {
		return nil
	}
	if err := s.Err(); err != nil {
		return err
	}
	if err := s.insertEntries(entries); err != nil {
		return err
	}
	s.folded.Store(entries[n-1].id)
	s.pendMu.Lock()
	// The journal writer appends past n meanwhile; entries is not used
	// again, so its array takes what is left.
	s.pending = append(s.pending[:0], s.pending[n:]...)
	s.pendMu.Unlock()
	return nil
}

// insertEntries writes entries, with their ids, into the database's
// journal in one transaction, synced as journal commits are: once it
// returns, their log space may be written over.
func (s *Store) insertEntries(entries []pendingEntry) error {
	ctx := context.Background()
	start := time.Now()
	conn, tx, err := s.begin(ctx, s.journalSync)
	if err != nil {
		return fmt.Errorf("store: journal: %w", s.observe(err))
	}
	defer func() { _ = tx.Rollback(); _ = conn.Close() }()
	args := func(dst []any, i int) []any {
		raw := entries[i].raw
		var key any
		if raw.DedupKey != "" {
			key = raw.DedupKey
		}
		return append(dst, entries[i].id, nanos(raw.ReceivedAt), raw.Query, raw.Body, key)
	}
	if err := s.execRows(ctx, tx, qInsertEventID, len(entries), args, nil); err != nil {
		return fmt.Errorf("store: journal: %w", s.observe(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: journal: commit: %w", s.observe(err))
	}
	s.metrics.foldDuration.Observe(time.Since(start).Seconds())
	s.wrote()
	s.walSize()
	return s.checkFiles()
}

// insertEvents writes the batch straight into the database's journal.
func (s *Store) insertEvents(batch []*appendReq) error {
	ctx := context.Background()
	conn, tx, err := s.begin(ctx, s.journalSync)
	if err != nil {
		return fmt.Errorf("store: journal: %w", err)
	}
	defer func() { _ = tx.Rollback(); _ = conn.Close() }()
	if err := s.insertRows(ctx, tx, batch); err != nil {
		return fmt.Errorf("store: journal: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: journal: commit: %w", err)
	}
	s.wrote()
	// Committed into the files opened: if they were deleted or replaced,
	// the entries are not where the next start will look, so the callbacks
	// must not be acknowledged.
	return s.checkFiles()
}

// insertRows inserts the batch's entries and gives each request its ids.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, batch []*appendReq) error {
	type at struct{ req, raw int }
	var rows []at
	for i, r := range batch {
		r.ids = r.ids[:0]
		for j := range r.raws {
			rows = append(rows, at{i, j})
		}
	}
	args := func(dst []any, i int) []any {
		raw := batch[rows[i].req].raws[rows[i].raw]
		var key any
		if raw.DedupKey != "" {
			key = raw.DedupKey
		}
		return append(dst, nanos(raw.ReceivedAt), raw.Query, raw.Body, key)
	}
	return s.execRows(ctx, tx, qInsertEvent, len(rows), args, func(first, n int, last int64) {
		for k, p := range rows[first : first+n] {
			batch[p.req].ids = append(batch[p.req].ids, last-int64(n-1-k))
		}
	})
}

// Unprocessed returns up to limit unprocessed journal entries with ids
// above after, oldest first.
func (s *Store) Unprocessed(ctx context.Context, after int64, limit int) ([]Event, error) {
	return s.UnprocessedExcept(ctx, after, limit, nil)
}

// UnprocessedExcept is Unprocessed for a reader that holds some entries
// already (the pipeline keeps the events it was handed as parsed): held
// reports, for an entry's id, whether the reader holds it and when it was
// received. For an entry held only ID and Raw.ReceivedAt are returned.
// Reading back a live entry's query and body was a sixth of the memory
// the daemon allocated per callback.
func (s *Store) UnprocessedExcept(ctx context.Context, after int64, limit int, held func(id int64) (time.Time, bool)) ([]Event, error) {
	ctx = short(ctx)
	_ = s.settle()
	if held != nil {
		if out := s.heldRun(after, limit, held); out != nil {
			return out, nil
		}
		out, err := s.unprocessed(ctx, after, limit, true)
		if err != nil {
			return nil, err
		}
		missing := slices.IndexFunc(out, func(e Event) bool { _, ok := held(e.ID); return !ok })
		if missing < 0 {
			return out, nil
		}
		// Entries held by nobody (after a restart, or past the reader's
		// bound): the rest of the batch is read in full.
		rest, err := s.unprocessed(ctx, out[missing].ID-1, len(out)-missing, false)
		if err != nil {
			return nil, err
		}
		return append(out[:missing], rest...), nil
	}
	return s.unprocessed(ctx, after, limit, false)
}

// heldRun returns the entries past after without reading the database,
// when it can tell what the database holds there: after is the
// processing cursor as last committed, and the reader holds every id from
// it to the last moved from the log. Ids are given in order and moved in
// order, so the database then holds exactly those. It returns nil
// otherwise, or when there are none. Reading the ids and times back was
// 2% of the daemon's CPU flat out.
func (s *Store) heldRun(after int64, limit int, held func(id int64) (time.Time, bool)) []Event {
	if s.log == nil || after <= 0 || after != s.through.Load() {
		return nil
	}
	last := min(s.folded.Load(), after+int64(limit))
	if last <= after {
		return nil
	}
	out := make([]Event, 0, last-after)
	for id := after + 1; id <= last; id++ {
		at, ok := held(id)
		if !ok {
			return nil
		}
		// As stored, as a read from the database would give it.
		out = append(out, Event{ID: id, Raw: callback.Raw{ReceivedAt: fromNanos(nanos(at))}})
	}
	return out
}

// unprocessed reads the entries past after and the cursor; with stamps,
// only their ids and receive times.
func (s *Store) unprocessed(ctx context.Context, after int64, limit int, stamps bool) ([]Event, error) {
	cols := "id, received_at, query, body"
	if stamps {
		cols = "id, received_at"
	}
	stmt, err := s.prepare(ctx, s.r, `SELECT `+cols+` FROM events WHERE id > max(?, `+qThrough+`) ORDER BY id LIMIT ?`)
	if err != nil {
		return nil, fmt.Errorf("store: unprocessed: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: unprocessed: %w", s.observe(err))
	}
	defer rows.Close()
	out := make([]Event, 0, min(limit, 4096))
	var e Event
	var at int64
	dst := []any{&e.ID, &at, &e.Raw.Query, &e.Raw.Body}
	if stamps {
		dst = dst[:2]
	}
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: unprocessed: %w", s.observe(err))
		}
		e.Raw.ReceivedAt = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: unprocessed: %w", s.observe(err))
	}
	return out, nil
}

// EventsSince calls fn for every journal entry received at or after since,
// oldest first, until fn returns an error. It reads a consistent snapshot
// and is safe next to a running daemon. This is what a dry run over real
// history (imalert test --from-journal) reads; Event.Parse re-parses each
// entry with the current parser.
func (s *Store) EventsSince(ctx context.Context, since time.Time, fn func(Event) error) error {
	_ = s.settle()
	from, err := s.idReceivedFrom(ctx, since.Add(-receiveDisorder))
	if err != nil {
		return fmt.Errorf("store: events: %w", s.observe(err))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT e.id, e.received_at, e.query, e.body,
		CASE WHEN e.id <= p.through THEN p.processed_at END
		FROM events e, progress p WHERE p.id = 1 AND e.id >= ? AND e.received_at >= ? ORDER BY e.id`, from, nanos(since))
	if err != nil {
		return fmt.Errorf("store: events: %w", s.observe(err))
	}
	defer rows.Close()
	for rows.Next() {
		var e Event
		var at int64
		var processed sql.NullInt64
		if err := rows.Scan(&e.ID, &at, &e.Raw.Query, &e.Raw.Body, &processed); err != nil {
			return fmt.Errorf("store: events: %w", s.observe(err))
		}
		e.Raw.ReceivedAt = fromNanos(at)
		e.ProcessedAt = fromNanos(processed.Int64)
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: events: %w", s.observe(err))
	}
	return nil
}

// qThrough is the processing cursor: every entry with an id up to it is
// processed.
const qThrough = `(SELECT through FROM progress WHERE id = 1)`

// CountUnprocessed returns how many journal entries wait for processing:
// the ids past the cursor. Counting the rows instead read every page of
// them, 150 MB and a tenth of a second of CPU per scrape behind a storm's
// backlog. Ids are given in order, once: the few a failed commit gave
// without an entry are counted until the backlog is processed.
func (s *Store) CountUnprocessed(ctx context.Context) (int, error) {
	_ = s.settle()
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT max(coalesce((SELECT max(id) FROM events), 0) - `+qThrough+`, 0)`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: %w", s.observe(err))
	}
	return n, nil
}

// OldestUnprocessed returns when the oldest journal entry waiting for
// processing was received, or the zero time when none waits: the
// pipeline's lag.
func (s *Store) OldestUnprocessed(ctx context.Context) (time.Time, error) {
	_ = s.settle()
	var at int64
	err := s.r.QueryRowContext(ctx, `SELECT received_at FROM events WHERE id > `+qThrough+` ORDER BY id LIMIT 1`).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: %w", s.observe(err))
	}
	return fromNanos(at), nil
}

// receiveDisorder bounds how much earlier than an entry committed before
// it an entry may have been received: a request's time between its
// receipt and its journal commit.
const receiveDisorder = time.Minute

// idReceivedFrom returns the id of the first entry received at or after t,
// by a binary search on id (entries are committed about in the order they
// were received), or one past the last id when there is none. A few dozen
// lookups of the id's b-tree, whatever the journal's size.
func (s *Store) idReceivedFrom(ctx context.Context, t time.Time) (int64, error) {
	stmt, err := s.prepare(ctx, s.r, `SELECT id, received_at FROM events WHERE id >= ? ORDER BY id LIMIT 1`)
	if err != nil {
		return 0, err
	}
	var lo, hi int64
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(min(id), 1), coalesce(max(id), 0) + 1 FROM events`).Scan(&lo, &hi); err != nil {
		return 0, s.observe(err)
	}
	want := nanos(t)
	// Invariant: entries below lo were received before t; the entry at or
	// after hi (if any) was not. No entry lies between mid and the one
	// found, so when that one is late, so is mid.
	for lo < hi {
		mid := lo + (hi-lo)/2
		var id, at int64
		err := stmt.QueryRowContext(ctx, mid).Scan(&id, &at)
		switch {
		case errors.Is(err, sql.ErrNoRows) || (err == nil && at >= want):
			hi = mid
		case err != nil:
			return 0, s.observe(err)
		default:
			lo = min(id+1, hi)
		}
	}
	return lo, nil
}

// DedupMark is the de-duplication key of a journal entry and when it was
// received.
type DedupMark struct {
	Key        string
	ReceivedAt time.Time
}

// RecentDedupKeys returns the de-duplication keys of the newest limit
// journal entries received at or after since that have one, oldest first:
// what a restarted receiver needs to recognise retries and replays, read
// without parsing the entries, and bounded by limit whatever the journal
// holds. Entries journaled before keys were kept have none.
func (s *Store) RecentDedupKeys(ctx context.Context, since time.Time, limit int) ([]DedupMark, error) {
	_ = s.settle()
	from, err := s.idReceivedFrom(ctx, since.Add(-receiveDisorder))
	if err != nil {
		return nil, fmt.Errorf("store: dedup keys: %w", err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT dedup_key, received_at FROM events
		WHERE id >= ? AND received_at >= ? AND dedup_key IS NOT NULL ORDER BY id DESC LIMIT ?`,
		from, nanos(since), limit)
	if err != nil {
		return nil, fmt.Errorf("store: dedup keys: %w", s.observe(err))
	}
	defer rows.Close()
	var out []DedupMark
	for rows.Next() {
		var m DedupMark
		var at int64
		if err := rows.Scan(&m.Key, &at); err != nil {
			return nil, fmt.Errorf("store: dedup keys: %w", s.observe(err))
		}
		m.ReceivedAt = fromNanos(at)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: dedup keys: %w", s.observe(err))
	}
	slices.Reverse(out) // read newest first: the index walks backwards, no sort
	return out, nil
}
