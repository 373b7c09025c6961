// Package silence mutes events for a while without touching the rules.
// A silence has matchers in the rule match: language, a start and an end,
// an author and a comment. Events it matches while active are held:
// journaled and counted per silence, never paged. When it ends (runs out
// or is expired) the pipeline reports what it held to the receivers of the
// rules involved.
//
// Silences live in the store: the API writes a silence once, and each
// processing batch writes what its events added to the silences' counts,
// in the same transaction that marks the events processed, so a restart
// neither loses nor double-counts.
package silence

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// State is where a silence is in its life.
type State string

// Silence states.
const (
	Pending State = "pending" // starts later
	Active  State = "active"  // holding matching events
	Expired State = "expired" // over: ran out or expired by hand
)

// Limits.
const (
	// DefaultMaxDuration is silences.max_duration when not configured.
	DefaultMaxDuration = 7 * 24 * time.Hour
	// MaxOpen bounds the silences pending or active at once.
	MaxOpen = 1000
	// MaxGroups bounds the distinct groups a silence keeps track of; past
	// it the count is a lower bound.
	MaxGroups = 500
	// maxNames bounds the rules and receivers a silence keeps track of.
	maxNames = 64
	// keepExpired is how long an expired silence stays listed.
	keepExpired = 7 * 24 * time.Hour
	// endGrace delays the end notice a little past the end, so events
	// received just before it but processed just after are counted.
	endGrace   = time.Second
	maxAuthor  = 100
	maxComment = 1000
)

// Request is a silence as asked for through the API.
type Request struct {
	Matchers json.RawMessage `json:"matchers"`
	// Duration (such as "1h" or "2d") or EndsAt sets the end; StartsAt
	// defaults to now.
	Duration string     `json:"duration,omitempty"`
	StartsAt *time.Time `json:"starts_at,omitempty"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	Author   string     `json:"author"`
	Comment  string     `json:"comment"`

	// Via is where the request came from: ViaAPI (the default), ViaUI or
	// ViaLink. It is set by the server, never read from the API's body.
	Via string `json:"-"`
	// Capability, for a silence made from a mute link, names the link:
	// a link makes one silence at most.
	Capability string `json:"-"`
}

// Where silences come from.
const (
	ViaAPI  = "api"
	ViaUI   = "ui"
	ViaLink = "link"
)

// Silence is a silence as listed.
type Silence struct {
	ID        string          `json:"id"`
	Matchers  json.RawMessage `json:"matchers"`
	StartsAt  time.Time       `json:"starts_at"`
	EndsAt    time.Time       `json:"ends_at"`
	CreatedAt time.Time       `json:"created_at"`
	Author    string          `json:"author"`
	Comment   string          `json:"comment"`
	// Via says where it was made: api, ui or link (a mute link).
	Via   string `json:"created_via"`
	State State  `json:"state"`
	// Silenced is how many events the silence has held so far, Groups in
	// how many distinct IM groups, Rules which rules' matches.
	Silenced int        `json:"silenced"`
	Groups   int        `json:"groups"`
	Rules    []string   `json:"rules"`
	Last     *time.Time `json:"last_silenced,omitempty"`
}

// InvalidError is a request that cannot become a silence.
type InvalidError struct{ Msgs []string }

func (e *InvalidError) Error() string { return "silence: " + strings.Join(e.Msgs, "; ") }

// ErrNotFound is returned for an unknown silence ID.
var ErrNotFound = errors.New("silence: no such silence")

// ErrUnshared is returned when a silence cannot be made or expired
// because the other replicas cannot be told (Redis does not answer):
// nothing changed, try again later.
var ErrUnshared = errors.New("silence: the other replicas cannot be told")

// UsedError is returned when a mute link has made its silence already.
type UsedError struct{ Silence Silence }

func (e *UsedError) Error() string {
	return "silence: this link made silence " + e.Silence.ID + " already"
}

// spec is what the store keeps of a silence besides its times.
type spec struct {
	Matchers json.RawMessage `json:"matchers"`
	Author   string          `json:"author"`
	Comment  string          `json:"comment"`
	// PlannedEnd is the end as asked; an earlier end means it was expired.
	PlannedEnd time.Time `json:"planned_end"`
	Via        string    `json:"via,omitempty"`
	Capability string    `json:"capability,omitempty"`
}

// Stats is what a silence has held.
type Stats struct {
	Events     int       `json:"events"`
	First      time.Time `json:"first,omitzero"`
	Last       time.Time `json:"last,omitzero"`
	Groups     []string  `json:"groups,omitempty"` // sorted
	GroupsMore bool      `json:"groups_more,omitempty"`
	Rules      []string  `json:"rules,omitempty"`     // sorted
	Receivers  []string  `json:"receivers,omitempty"` // sorted
}

type entry struct {
	row     store.Silence
	spec    spec
	matcher *rules.Matcher
	stats   Stats
	// totals, on a shared Set, are what every replica held together.
	totals *Totals
}

func (e *entry) state(now time.Time) State {
	switch {
	case !now.Before(e.row.EndsAt):
		return Expired
	case now.Before(e.row.StartsAt):
		return Pending
	}
	return Active
}

// Options configure Open.
type Options struct {
	Store *store.Store
	// MaxDuration bounds a silence's length; default DefaultMaxDuration.
	MaxDuration time.Duration
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	// Now is the clock of the API (starts, ends, expiry); nil: time.Now.
	// Matching uses each event's receive time.
	Now func() time.Time
	// Shared, when set, shares the silences with the other replicas;
	// Watch keeps this replica's copy fresh.
	Shared Shared
}

// Set is the daemon's silences: loaded from the store, changed through the
// API, consulted and counted by the pipeline. It is safe for concurrent use.
type Set struct {
	st          *store.Store
	maxDuration time.Duration
	logger      *slog.Logger
	now         func() time.Time
	metrics     *metrics
	changed     chan struct{}
	sh          *sharing // nil: this replica's own silences

	write sync.Mutex // held by Add and Expire
	mu    sync.RWMutex
	byID  map[string]*entry
	list  []*entry // creation order
}

// Open loads the silences from the store: every silence not yet over, and
// those that ended within the last week.
func Open(ctx context.Context, o Options) (*Set, error) {
	if o.MaxDuration <= 0 {
		o.MaxDuration = DefaultMaxDuration
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Set{
		st: o.Store, maxDuration: o.MaxDuration, logger: o.Logger, now: o.Now,
		changed: make(chan struct{}, 1), byID: map[string]*entry{},
	}
	rows, err := o.Store.Silences(ctx, o.Now().Add(-keepExpired))
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		e, err := load(row)
		if err != nil {
			s.logger.Warn("dropping unreadable silence", "silence", row.ID, "err", err)
			continue
		}
		s.byID[e.row.ID] = e
		s.list = append(s.list, e)
	}
	s.metrics = newMetrics(o.Registerer, s)
	if o.Shared != nil {
		s.sh = &sharing{shared: o.Shared, pending: map[string]*Stats{}}
		s.sync(ctx) // unanswered: the replica starts on its own, Watch retries
	}
	return s, nil
}

func load(row store.Silence) (*entry, error) {
	e := &entry{row: row}
	if err := json.Unmarshal(row.Spec, &e.spec); err != nil {
		return nil, err
	}
	if row.Stats != nil {
		if err := json.Unmarshal(row.Stats, &e.stats); err != nil {
			return nil, err
		}
	}
	m, err := rules.CompileMatch("matchers", "silence", e.spec.Matchers)
	if err != nil {
		return nil, err
	}
	e.matcher = m
	return e, nil
}

// Changed is signalled when a silence is added or expired, so that the
// pipeline can reconsider when the next one ends.
func (s *Set) Changed() <-chan struct{} { return s.changed }

func (s *Set) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Add validates r and stores it as a new silence.
func (s *Set) Add(ctx context.Context, r Request) (Silence, error) {
	now := s.now().UTC()
	e, err := s.validate(r, now)
	if err != nil {
		return Silence{}, err
	}
	// API writes take turns; the store is written outside s.mu, which
	// the pipeline takes for every event.
	s.write.Lock()
	defer s.write.Unlock()
	if r.Capability != "" {
		if v, ok := s.ByCapability(r.Capability); ok {
			return Silence{}, &UsedError{Silence: v}
		}
	}
	open := 0
	for _, v := range s.List() {
		if v.State != Expired {
			open++
		}
	}
	if open >= MaxOpen {
		return Silence{}, &InvalidError{Msgs: []string{fmt.Sprintf("already %d silences pending or active; expire some first", open)}}
	}
	if s.sh != nil {
		if err := s.sh.shared.Put(ctx, e.def()); err != nil {
			return Silence{}, fmt.Errorf("silence: add: %w: %w", ErrUnshared, err)
		}
	}
	if err := s.st.AddSilence(ctx, e.row); err != nil {
		return Silence{}, fmt.Errorf("silence: add: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[e.row.ID] = e
	s.list = append(s.list, e)
	s.signal()
	s.logger.Info("silence added", "silence", e.row.ID, "author", e.spec.Author, "starts_at", e.row.StartsAt, "ends_at", e.row.EndsAt)
	return e.view(now), nil
}

// validate turns r into a silence entry, or says everything wrong with it.
func (s *Set) validate(r Request, now time.Time) (*entry, error) {
	var msgs []string
	m, err := rules.CompileMatch("matchers", "silence", r.Matchers)
	if err != nil {
		var es yamlfile.Errors
		if errors.As(err, &es) {
			for _, e := range es {
				msgs = append(msgs, strings.TrimPrefix(e.Msg, "silence: "))
			}
		} else {
			msgs = append(msgs, "matchers: "+err.Error())
		}
	}
	r.Author, r.Comment = strings.TrimSpace(r.Author), strings.TrimSpace(r.Comment)
	switch {
	case r.Author == "":
		msgs = append(msgs, "author is required")
	case len(r.Author) > maxAuthor:
		msgs = append(msgs, fmt.Sprintf("author: at most %d bytes", maxAuthor))
	}
	switch {
	case r.Comment == "":
		msgs = append(msgs, "comment is required: say why")
	case len(r.Comment) > maxComment:
		msgs = append(msgs, fmt.Sprintf("comment: at most %d bytes", maxComment))
	}
	start := now
	if r.StartsAt != nil && r.StartsAt.After(now) {
		start = r.StartsAt.UTC()
	}
	var end time.Time
	switch {
	case (r.Duration == "") == (r.EndsAt == nil):
		msgs = append(msgs, "give either duration or ends_at")
	case r.Duration != "":
		d, err := yamlfile.ParseDuration(r.Duration)
		if err != nil || d <= 0 {
			msgs = append(msgs, fmt.Sprintf("duration: want a positive duration such as 30m, 2h or 1d, got %q", clip(r.Duration)))
		} else {
			end = start.Add(d)
		}
	default:
		end = r.EndsAt.UTC()
		if !end.After(start) {
			msgs = append(msgs, "ends_at must be after starts_at and after now")
		}
	}
	if !end.IsZero() && end.Sub(start) > s.maxDuration {
		msgs = append(msgs, fmt.Sprintf("a silence lasts at most %s (silences.max_duration)", yamlfile.FormatDuration(s.maxDuration)))
	}
	if len(msgs) > 0 {
		return nil, &InvalidError{Msgs: msgs}
	}
	if r.Via == "" {
		r.Via = ViaAPI
	}
	sp := spec{Matchers: r.Matchers, Author: r.Author, Comment: r.Comment, PlannedEnd: end, Via: r.Via, Capability: r.Capability}
	data, _ := json.Marshal(sp) // plain data: cannot fail
	row := store.Silence{ID: newID(), CreatedAt: now, StartsAt: start, EndsAt: end, Spec: data}
	return &entry{row: row, spec: sp, matcher: m}, nil
}

// Expire ends the silence id now; expiring an expired silence changes
// nothing.
func (s *Set) Expire(ctx context.Context, id string) (Silence, error) {
	now := s.now().UTC()
	s.write.Lock()
	defer s.write.Unlock()
	s.mu.RLock()
	e, ok := s.byID[id]
	expired := ok && e.state(now) == Expired
	var v Silence
	if expired {
		v = e.view(now)
	}
	s.mu.RUnlock()
	switch {
	case !ok:
		return Silence{}, ErrNotFound
	case expired:
		return v, nil
	}
	if s.sh != nil {
		d := e.def()
		d.EndsAt = now
		if d.StartsAt.After(now) {
			d.StartsAt = now
		}
		if err := s.sh.shared.Put(ctx, d); err != nil {
			return Silence{}, fmt.Errorf("silence: expire: %w: %w", ErrUnshared, err)
		}
	}
	if err := s.st.ExpireSilence(ctx, id, now); err != nil {
		if errors.Is(err, store.ErrNoSilence) {
			return Silence{}, ErrNotFound
		}
		return Silence{}, fmt.Errorf("silence: expire: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e.row.EndsAt = now
	if e.row.StartsAt.After(now) {
		e.row.StartsAt = now
	}
	s.signal()
	s.logger.Info("silence expired", "silence", id)
	return e.view(now), nil
}

// List returns the silences, oldest first, with their state now.
func (s *Set) List() []Silence {
	now := s.now().UTC()
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Silence, 0, len(s.list))
	for _, e := range s.list {
		out = append(out, e.view(now))
	}
	return out
}

func (e *entry) view(now time.Time) Silence {
	v := Silence{
		ID: e.row.ID, Matchers: e.spec.Matchers, StartsAt: e.row.StartsAt, EndsAt: e.row.EndsAt,
		CreatedAt: e.row.CreatedAt, Author: e.spec.Author, Comment: e.spec.Comment, Via: cmp.Or(e.spec.Via, ViaAPI), State: e.state(now),
		Silenced: e.stats.Events, Groups: len(e.stats.Groups), Rules: e.stats.Rules,
	}
	last := e.stats.Last
	if t := e.totals; t != nil && t.Events >= v.Silenced {
		v.Silenced, v.Groups, v.Rules, last = t.Events, t.Groups, t.Rules, t.Last
	}
	if v.Rules == nil {
		v.Rules = []string{}
	}
	if !last.IsZero() {
		v.Last = &last
	}
	return v
}

// ByCapability returns the silence made from the mute link capability.
// Expired silences are listed for a week, longer than a link lives.
func (s *Set) ByCapability(capability string) (Silence, bool) {
	now := s.now().UTC()
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.list {
		if e.spec.Capability == capability {
			return e.view(now), true
		}
	}
	return Silence{}, false
}

// Matching appends to dst the IDs of the silences active at ev's receive
// time that match ev.
func (s *Set) Matching(ev *callback.Event, dst []string) []string {
	at := ev.ReceivedAt
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.list {
		if e.state(at) == Active && e.matcher.Matches(ev) {
			dst = append(dst, e.row.ID)
		}
	}
	return dst
}

// NextEnd returns how long after now the next silence's end is due to be
// reported; limit when none is sooner.
func (s *Set) NextEnd(now time.Time, limit time.Duration) time.Duration {
	var retry time.Duration
	if s.sh != nil {
		s.sh.mu.Lock()
		retry = s.sh.claimRetry.Sub(now)
		s.sh.mu.Unlock()
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.list {
		if !e.row.Noticed {
			if d := max(e.row.EndsAt.Add(endGrace).Sub(now), retry); d < limit {
				limit = d
			}
		}
	}
	return limit
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// addName adds name to the sorted list names, up to maxNames.
func addName(names []string, name string, limit int) ([]string, bool) {
	i, found := slices.BinarySearch(names, name)
	if found {
		return names, true
	}
	if len(names) >= limit {
		return names, false
	}
	return slices.Insert(names, i, name), true
}
