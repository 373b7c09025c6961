package silence

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/imalert/imalert/store"
)

// Shared is where replicas share their silences (Redis, with
// state.backend: redis). Each replica keeps every silence in its own
// store and memory as well, refreshed from Shared every second (Watch),
// so that matching never waits on it; what Shared adds is one set of
// definitions, one count per silence and one end notice.
type Shared interface {
	// Put adds the definition d or replaces it (an expiry).
	Put(ctx context.Context, d Def) error
	// Versions returns the version of the definitions (bumped by every
	// Put) and of the counts (bumped by every Tally).
	Versions(ctx context.Context) (defs, counts int64, err error)
	// Defs returns every definition.
	Defs(ctx context.Context) ([]Def, error)
	// Tally adds what this replica held to the shared counts.
	Tally(ctx context.Context, delta map[string]*Stats) error
	// Totals returns the shared counts of the silences ids.
	Totals(ctx context.Context, ids []string) (map[string]Totals, error)
	// ClaimEnd claims the end notice of silence id for this replica, for
	// a lease that EndSent confirms: a claimer that neither confirms nor
	// asks again within the lease loses it to the next one to ask. An
	// error leaves the question for a later batch.
	ClaimEnd(ctx context.Context, id string) (EndClaim, error)
	// EndSent confirms a claim won: the notice is committed to the
	// outbox.
	EndSent(ctx context.Context, id string) error
}

// EndClaim is what ClaimEnd found.
type EndClaim int

const (
	EndWon   EndClaim = iota // this replica reports the end
	EndTaken                 // another replica's lease runs: ask again
	EndSent                  // reported: nothing to send
)

// Def is a silence's definition as replicas share it.
type Def struct {
	ID        string          `json:"id"`
	CreatedAt time.Time       `json:"created_at"`
	StartsAt  time.Time       `json:"starts_at"`
	EndsAt    time.Time       `json:"ends_at"`
	Spec      json.RawMessage `json:"spec"`
}

// Totals is what a silence held on every replica together.
type Totals struct {
	Events int
	// Groups is an estimate (a HyperLogLog), exact for small counts.
	Groups      int
	First, Last time.Time
	Rules       []string // sorted
	Receivers   []string // sorted
}

// totalsFresh is how long after its end a silence's totals are still
// refreshed: long enough for every replica's last batch.
const totalsFresh = time.Minute

// sharing is the Set's part that only a shared Set uses.
type sharing struct {
	shared Shared
	mu     sync.Mutex
	// pending is what this replica held and did not yet add to the shared
	// counts (Redis did not answer); bounded by the silences.
	pending   map[string]*Stats
	defsV     int64
	countsV   int64
	syncedOne bool
	// claimRetry is when end notices whose claim got no answer are tried
	// again, so that an unreachable Redis does not spin the pipeline.
	claimRetry time.Time
}

func (e *entry) def() Def {
	return Def{ID: e.row.ID, CreatedAt: e.row.CreatedAt, StartsAt: e.row.StartsAt, EndsAt: e.row.EndsAt, Spec: e.row.Spec}
}

// Watch refreshes a shared Set every second until ctx ends: it adds the
// counts not yet shared, and takes in the silences made, expired or
// counted on other replicas. Without Shared it returns at once.
func (s *Set) Watch(ctx context.Context) {
	if s.sh == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.flush(ctx)
		s.sync(ctx)
	}
}

// flush adds the pending counts to the shared ones; on an error they
// stay pending.
func (s *Set) flush(ctx context.Context) {
	s.sh.mu.Lock()
	defer s.sh.mu.Unlock()
	if len(s.sh.pending) == 0 {
		return
	}
	if err := s.sh.shared.Tally(ctx, s.sh.pending); err != nil {
		s.logger.Debug("silence counts not shared yet", "err", err)
		return
	}
	s.sh.pending = map[string]*Stats{}
}

// share queues a batch's counts and adds them at once if it can.
func (s *Set) share(delta map[string]*Stats) {
	s.sh.mu.Lock()
	for id, d := range delta {
		p := s.sh.pending[id]
		if p == nil {
			p = &Stats{}
		}
		m := p.merge(d)
		s.sh.pending[id] = &m
	}
	s.sh.mu.Unlock()
	s.flush(context.Background())
}

// sync takes in the shared definitions and totals when their versions
// moved; on an error the replica keeps what it knew (fail open).
func (s *Set) sync(ctx context.Context) {
	dv, cv, err := s.sh.shared.Versions(ctx)
	if err != nil {
		s.logger.Debug("shared silences not refreshed", "err", err)
		return
	}
	first := !s.sh.syncedOne
	if first || dv != s.sh.defsV {
		defs, err := s.sh.shared.Defs(ctx)
		if err != nil {
			s.logger.Debug("shared silences not refreshed", "err", err)
			return
		}
		s.takeDefs(ctx, defs)
		s.sh.defsV = dv
	}
	if first || cv != s.sh.countsV || dv != s.sh.defsV {
		if err := s.takeTotals(ctx); err != nil {
			s.logger.Debug("shared silence counts not refreshed", "err", err)
			return
		}
		s.sh.countsV = cv
	}
	s.sh.syncedOne = true
}

// takeDefs adds the silences made on other replicas and ends those
// expired there, in the store and in memory.
func (s *Set) takeDefs(ctx context.Context, defs []Def) {
	s.write.Lock()
	defer s.write.Unlock()
	changed := false
	for _, d := range defs {
		s.mu.RLock()
		e, ok := s.byID[d.ID]
		s.mu.RUnlock()
		switch {
		case !ok:
			row := store.Silence{ID: d.ID, CreatedAt: d.CreatedAt, StartsAt: d.StartsAt, EndsAt: d.EndsAt, Spec: d.Spec}
			ne, err := load(row)
			if err != nil {
				s.logger.Warn("dropping unreadable shared silence", "silence", d.ID, "err", err)
				continue
			}
			if err := s.st.AddSilence(ctx, row); err != nil {
				s.logger.Warn("recording a shared silence failed", "silence", d.ID, "err", err)
				continue
			}
			s.mu.Lock()
			s.byID[d.ID] = ne
			s.list = append(s.list, ne)
			s.mu.Unlock()
			changed = true
		case d.EndsAt.Before(e.row.EndsAt):
			if err := s.st.ExpireSilence(ctx, d.ID, d.EndsAt); err != nil {
				s.logger.Warn("recording a shared expiry failed", "silence", d.ID, "err", err)
				continue
			}
			s.mu.Lock()
			e.row.EndsAt = d.EndsAt
			if e.row.StartsAt.After(d.EndsAt) {
				e.row.StartsAt = d.EndsAt
			}
			s.mu.Unlock()
			changed = true
		}
	}
	if changed {
		s.signal()
	}
}

// takeTotals reads the shared totals of the silences that may still
// change.
func (s *Set) takeTotals(ctx context.Context) error {
	now := s.now()
	s.mu.RLock()
	var ids []string
	for _, e := range s.list {
		if e.totals == nil || now.Before(e.row.EndsAt.Add(totalsFresh)) {
			ids = append(ids, e.row.ID)
		}
	}
	s.mu.RUnlock()
	if len(ids) == 0 {
		return nil
	}
	ts, err := s.sh.shared.Totals(ctx, ids)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range ts {
		if e, ok := s.byID[id]; ok {
			e.totals = &t
		}
	}
	return nil
}

// claimEnds decides which of the due silences this replica reports: the
// one whose claim wins, with every replica's totals; its claim is
// confirmed once the batch is committed (Apply). The others are noticed
// without a page once the notice is sent; those whose claim got no
// answer, or is another replica's and not yet confirmed, wait.
func (s *Set) claimEnds(due []*entry, batch map[string]Stats) (noticed, won []string, ended []Ended) {
	ctx := context.Background()
	for _, e := range due {
		claim, err := s.sh.shared.ClaimEnd(ctx, e.row.ID)
		if err != nil || claim == EndTaken {
			if err != nil {
				s.logger.Debug("silence end not claimed yet", "silence", e.row.ID, "err", err)
			}
			s.sh.mu.Lock()
			s.sh.claimRetry = s.now().Add(time.Second)
			s.sh.mu.Unlock()
			continue
		}
		noticed = append(noticed, e.row.ID)
		if claim == EndSent {
			continue
		}
		won = append(won, e.row.ID)
		if n, ok := s.endNotice(ctx, e, batch); ok {
			ended = append(ended, n)
		}
	}
	return noticed, won, ended
}

// endNotice is the end notice of e, with every replica's totals; false
// when the silence held nothing.
func (s *Set) endNotice(ctx context.Context, e *entry, batch map[string]Stats) (Ended, bool) {
	s.flush(ctx)
	st, ok := batch[e.row.ID]
	if !ok {
		st = e.stats
	}
	t := totalsOf(st)
	if ts, err := s.sh.shared.Totals(ctx, []string{e.row.ID}); err == nil {
		if got, ok := ts[e.row.ID]; ok && got.Events > 0 {
			// This batch's own counts are not shared yet.
			got.Events += st.Events - e.stats.Events
			got.Rules = mergeNames(got.Rules, st.Rules, maxNames)
			got.Receivers = mergeNames(got.Receivers, st.Receivers, maxNames)
			t = got
		}
	}
	if t.Events == 0 {
		return Ended{}, false
	}
	s.mu.RLock() // the times may change under an expiry
	se := e.endedTotals(t)
	s.mu.RUnlock()
	return Ended{SilenceEnded: se, Receivers: t.Receivers}, true
}

// confirmEnds confirms the end claims a committed batch won. One not
// confirmed (Redis did not answer) lapses: another replica may send the
// notice again, a duplicate rather than a loss.
func (s *Set) confirmEnds(won []string) {
	for _, id := range won {
		if err := s.sh.shared.EndSent(context.Background(), id); err != nil {
			s.logger.Warn("confirming a silence's end notice failed: another replica may send it again", "silence", id, "err", err)
		}
	}
}

func totalsOf(st Stats) Totals {
	return Totals{Events: st.Events, Groups: len(st.Groups), First: st.First, Last: st.Last,
		Rules: slices.Clone(st.Rules), Receivers: slices.Clone(st.Receivers)}
}
