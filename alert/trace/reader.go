package trace

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// Event is one journaled event with its trace, as the API, the CLI and
// the UI show it. Strings from the callback are cleaned and truncated but
// remain untrusted: escape them for wherever they are shown.
type Event struct {
	ID          int64      `json:"id"`
	RequestID   string     `json:"request_id"`
	ReceivedAt  time.Time  `json:"received_at"`
	ProcessedAt *time.Time `json:"processed_at,omitempty"`
	Command     string     `json:"callback_command,omitempty"`
	AppID       uint64     `json:"sdkappid,omitempty"`
	GroupID     string     `json:"group_id,omitempty"`
	GroupType   string     `json:"group_type,omitempty"`
	FromAccount string     `json:"from_account,omitempty"`
	ErrorCode   *int64     `json:"error_code,omitempty"`
	ErrorInfo   string     `json:"error_info,omitempty"`
	CodeMeaning string     `json:"code_meaning,omitempty"`
	Excerpt     string     `json:"excerpt,omitempty"`
	// ParseError is set when the journal entry no longer parses.
	ParseError string `json:"parse_error,omitempty"`

	Matches       []Match        `json:"rules"`
	Notifications []Notification `json:"notifications"`
}

// Match is one rule the event matched and what was decided.
type Match struct {
	Rule     string `json:"rule"`
	File     string `json:"file,omitempty"` // from the rules loaded now
	Line     int    `json:"line,omitempty"`
	GroupKey string `json:"group_key"`
	// Decision is "paged", "held" or "digest".
	Decision string        `json:"decision"`
	Reason   notify.Reason `json:"reason"`
	// Detail says why in words: "throttled: 4m10s left of the 10m window,
	// 3 held back", "below threshold: 2 of 5 within 1m".
	Detail          string     `json:"detail"`
	Until           *time.Time `json:"until,omitempty"`
	TimeLeftSeconds float64    `json:"time_left_seconds,omitempty"`
	Suppressed      int        `json:"suppressed,omitempty"`
	Count           int        `json:"count,omitempty"`
	Threshold       int        `json:"threshold,omitempty"`
}

// Notification is a page the event made, with every delivery attempt.
type Notification struct {
	delivery.Delivery
	AttemptLog []Attempt `json:"attempt_log"`
	// Page is the page as rendered when it was decided, in its plain-text
	// form.
	Page string `json:"page"`
}

// Attempt is one delivery attempt and its result.
type Attempt struct {
	At     time.Time `json:"at"`
	Result string    `json:"result"` // "delivered" or "failed"
	Error  string    `json:"error,omitempty"`
}

// Filter selects events for List.
type Filter struct {
	GroupID     string
	FromAccount string
	ErrorCode   *int64
	Rule        string
	Since       time.Time
	// Before continues a listing: only events with smaller ids.
	Before int64
	Limit  int
}

// Page is one listing.
type Page struct {
	Events []Event `json:"events"`
	// NextBefore, when not 0, continues the listing: pass it as before.
	NextBefore int64 `json:"next_before,omitempty"`
}

// Source is the store as the reader uses it.
type Source interface {
	EventsNewest(ctx context.Context, f store.TraceFilter) ([]store.Event, error)
	Decisions(ctx context.Context, ids []int64) (map[int64][]store.Decision, error)
	EventNotifications(ctx context.Context, ids []int64) (map[int64][]store.Notification, error)
	Attempts(ctx context.Context, seqs []int64) (map[int64][]store.AttemptRecord, error)
}

// Reader reads the trace.
type Reader struct {
	src    Source
	rules  func() *rules.Engine
	limits callback.Limits
	cat    *callback.Catalogue
}

// NewReader returns a reader over src; rules, when set, gives the rule set
// in use, for each rule's file and line.
func NewReader(src Source, rules func() *rules.Engine, lim callback.Limits) *Reader {
	return &Reader{src: src, rules: rules, limits: lim, cat: callback.NewCatalogue()}
}

// ErrNotFound is returned by Get for an event not (or no longer) in the
// journal.
var ErrNotFound = errors.New("trace: no such event")

// MaxLimit bounds one listing; maxScan bounds the journal entries one
// filtered listing reads.
const (
	MaxLimit = 500
	maxScan  = 20000
	scanStep = 500
)

// List returns the newest events matching f, with their traces.
func (r *Reader) List(ctx context.Context, f Filter) (Page, error) {
	if f.Limit <= 0 || f.Limit > MaxLimit {
		f.Limit = 50
	}
	step := f.Limit
	filtered := f.GroupID != "" || f.FromAccount != "" || f.ErrorCode != nil
	if filtered {
		step = scanStep
	}
	var out Page
	before, scanned := f.Before, 0
	for len(out.Events) < f.Limit && scanned < maxScan {
		evs, err := r.src.EventsNewest(ctx, store.TraceFilter{Rule: f.Rule, Since: f.Since, Before: before, Limit: step})
		if err != nil {
			return Page{}, err
		}
		for _, e := range evs {
			before = e.ID
			scanned++
			v := r.view(e)
			if !matches(v, f) {
				continue
			}
			out.Events = append(out.Events, v)
			if len(out.Events) == f.Limit {
				break
			}
		}
		if len(evs) < step {
			before = 0
			break
		}
	}
	out.NextBefore = before
	if len(out.Events) < f.Limit && scanned < maxScan {
		out.NextBefore = 0
	}
	if err := r.fill(ctx, out.Events); err != nil {
		return Page{}, err
	}
	return out, nil
}

func matches(v Event, f Filter) bool {
	switch {
	case f.GroupID != "" && v.GroupID != f.GroupID:
		return false
	case f.FromAccount != "" && v.FromAccount != f.FromAccount:
		return false
	case f.ErrorCode != nil && (v.ErrorCode == nil || *v.ErrorCode != *f.ErrorCode):
		return false
	}
	return true
}

// Get returns one event with its trace.
func (r *Reader) Get(ctx context.Context, id int64) (Event, error) {
	evs, err := r.src.EventsNewest(ctx, store.TraceFilter{Before: id + 1, Limit: 1})
	if err != nil {
		return Event{}, err
	}
	if len(evs) == 0 || evs[0].ID != id {
		return Event{}, ErrNotFound
	}
	out := []Event{r.view(evs[0])}
	if err := r.fill(ctx, out); err != nil {
		return Event{}, err
	}
	return out[0], nil
}

// view is the event part of e's trace.
func (r *Reader) view(e store.Event) Event {
	v := Event{ID: e.ID, RequestID: callback.RequestID(e.Raw.ReceivedAt), ReceivedAt: e.Raw.ReceivedAt}
	if !e.ProcessedAt.IsZero() {
		t := e.ProcessedAt
		v.ProcessedAt = &t
	}
	ev, err := e.Parse(r.limits)
	if err != nil {
		v.ParseError = page.Clean(err.Error(), page.MaxErrorInfo)
		return v
	}
	v.Command, v.AppID = page.Clean(ev.Command, page.MaxField), ev.AppID
	v.GroupID, v.GroupType = page.Clean(ev.GroupID, page.MaxField), page.Clean(ev.GroupType, 32)
	v.FromAccount = page.Clean(ev.FromAccount, page.MaxField)
	if ev.Present.Has(callback.FieldErrorCode) {
		c := ev.ErrorCode
		v.ErrorCode = &c
		v.CodeMeaning = r.cat.Meaning(c)
	}
	v.ErrorInfo = page.Clean(ev.ErrorInfo, page.MaxErrorInfo)
	v.Excerpt = page.Clean(ev.Excerpt(), page.MaxExcerpt)
	return v
}

// fill adds the decisions, notifications and attempts of evs.
func (r *Reader) fill(ctx context.Context, evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	ids := make([]int64, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	ds, err := r.src.Decisions(ctx, ids)
	if err != nil {
		return err
	}
	ns, err := r.src.EventNotifications(ctx, ids)
	if err != nil {
		return err
	}
	var seqs []int64
	for _, rows := range ns {
		for _, n := range rows {
			seqs = append(seqs, n.Seq)
		}
	}
	as, err := r.src.Attempts(ctx, seqs)
	if err != nil {
		return err
	}
	var byName map[string]*rules.Rule
	if r.rules != nil {
		if e := r.rules(); e != nil {
			byName = map[string]*rules.Rule{}
			for _, rl := range e.Rules() {
				byName[rl.Name] = rl
			}
		}
	}
	for i := range evs {
		e := &evs[i]
		e.Matches = []Match{}
		for _, d := range ds[e.ID] {
			e.Matches = append(e.Matches, match(d, e.ReceivedAt, byName[d.Rule]))
		}
		e.Notifications = []Notification{}
		for _, row := range ns[e.ID] {
			e.Notifications = append(e.Notifications, r.notification(row, as[row.Seq]))
		}
	}
	return nil
}

func (r *Reader) notification(row store.Notification, attempts []store.AttemptRecord) Notification {
	n := Notification{Delivery: delivery.Deliveries([]store.Notification{row})[0], AttemptLog: []Attempt{}}
	for _, a := range attempts {
		at := Attempt{At: a.At, Result: "delivered", Error: a.Error}
		if a.Error != "" {
			at.Result = "failed"
		}
		n.AttemptLog = append(n.AttemptLog, at)
	}
	if dn, _ := delivery.Decode(row, r.limits); dn != nil && dn.Event != nil && dn.Event.Command != "unknown" {
		n.Page = page.Render(page.Build(dn))
	}
	return n
}

// match explains decision d on an event received at at; rule is the rule
// of that name loaded now, if any.
func match(d store.Decision, at time.Time, rule *rules.Rule) Match {
	m := Match{Rule: d.Rule, Reason: notify.Reason(d.Reason)}
	if rule != nil {
		m.File, m.Line = rule.File, rule.Line
	}
	rec, err := Unmarshal(d.Data, d.Reason)
	if err != nil {
		m.Decision, m.Detail = "held", "unreadable trace record"
		return m
	}
	m.GroupKey, m.Suppressed, m.Count, m.Threshold = rec.GroupKey, rec.Suppressed, rec.Count, rec.Threshold
	if !rec.Until.IsZero() && rec.Until.After(at) {
		u := rec.Until
		m.Until = &u
		m.TimeLeftSeconds = rec.Until.Sub(at).Seconds()
	}
	m.Decision = "held"
	if rec.Notify {
		m.Decision = "paged"
	}
	m.Detail = Describe(rec, at)
	if rec.Reason == notify.ReasonDigest {
		m.Decision = "digest"
	}
	return m
}

// Describe says in words why rec was decided for an event received at
// at.
func Describe(rec Record, at time.Time) string {
	switch rec.Reason {
	case notify.ReasonThrottled:
		return fmt.Sprintf("throttled: %s left of the %s window, %d held back so far",
			page.Duration(rec.Until.Sub(at).Round(time.Second)), page.Duration(rec.Window), rec.Suppressed)
	case notify.ReasonBelowThreshold:
		return fmt.Sprintf("below threshold: %d of %d within %s", rec.Count, rec.Threshold, page.Duration(rec.Within))
	case notify.ReasonSeenBefore:
		return "first_seen: this key paged before"
	case notify.ReasonDigest:
		return "counted into the rule's digest"
	case notify.ReasonFirst:
		return "paged: first in a new " + windowText(rec.Window) + " window"
	case notify.ReasonExpired:
		return "paged: the previous window ended; new " + windowText(rec.Window) + " window"
	case notify.ReasonNoWindow:
		return "paged: the rule has no throttle"
	case notify.ReasonFirstSeen:
		return "paged: first time this key was seen"
	}
	if rec.By != "" {
		return "held: " + string(rec.Reason) + " by " + rec.By
	}
	if rec.Notify {
		return "paged: " + string(rec.Reason)
	}
	return "held: " + string(rec.Reason)
}

func windowText(d time.Duration) string {
	if d <= 0 {
		return "throttle"
	}
	return page.Duration(d)
}

// maxFilterLen bounds a filter value.
const maxFilterLen = 256

// ParseFilter reads the filter of GET /api/v1/events from query
// values: group_id, from_account, error_code, rule, since (RFC 3339 or a
// duration back from now, e.g. 1h), before and limit.
func ParseFilter(get func(string) string, now time.Time) (Filter, error) {
	f := Filter{GroupID: get("group_id"), FromAccount: get("from_account"), Rule: get("rule"), Limit: 50}
	for _, v := range []string{f.GroupID, f.FromAccount, f.Rule} {
		if len(v) > maxFilterLen {
			return f, errors.New("filter value too long")
		}
	}
	var err error
	if f.ErrorCode, err = ParseErrorCode(get("error_code")); err != nil {
		return f, err
	}
	if s := get("since"); s != "" {
		if d, derr := time.ParseDuration(s); derr == nil && d > 0 {
			f.Since = now.Add(-d)
		} else if t, terr := time.Parse(time.RFC3339, s); terr == nil {
			f.Since = t
		} else {
			return f, errors.New("since: want an RFC 3339 time or a duration such as 1h")
		}
	}
	if s := get("before"); s != "" {
		if f.Before, err = strconv.ParseInt(s, 10, 64); err != nil || f.Before < 1 {
			return f, errors.New("before: want an event id")
		}
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return f, errors.New("limit: want 1 to " + strconv.Itoa(MaxLimit))
		}
		f.Limit = n
	}
	return f, nil
}

// ParseErrorCode reads an error_code filter.
func ParseErrorCode(s string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("error_code: want an integer")
	}
	return &n, nil
}
