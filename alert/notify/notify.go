// Package notify is all that an integration imports: the Notification
// it delivers, the Notifier interface it implements, and the
// DeliveryError that classifies a failed attempt as retryable or not.
// Retrying, pacing and fallbacks are the dispatcher's (package delivery);
// an integration makes one attempt and says how it went.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/imalert/imalert/callback"
)

// Notification is one page for one receiver.
type Notification struct {
	ID       string
	Receiver string
	Rule     string
	RuleFile string
	RuleLine int
	Severity string
	GroupKey string // the rule's group_by values, e.g. GroupId="@TGS#2J4SZEAEL"

	Event       *callback.Event // nil for a digest
	CodeMeaning string          // catalogue meaning of Event.ErrorCode

	// Throttle carries what the rule's throttle held back since the previous
	// page of the same rule and group key. Notifications merged into this
	// one add their events here too.
	Throttle Throttled
	// Reason is why the decision paged: first, window_expired, no_throttle
	// or first_seen.
	Reason Reason
	// Threshold is set for a rule with a threshold: how many matching
	// events fell within its window.
	Threshold ThresholdCount

	// Title and Body are the rule's templates rendered for each medium;
	// empty when the rule has none, and the standard layout applies.
	Title, Body Rendered

	CreatedAt time.Time

	// Merged counts the notifications for the same rule and group key
	// folded into this one while its destination was backed up.
	Merged int
	// Digest is set, and Event nil, for a rule's periodic summary.
	Digest *Digest
	// Silence is set, and Event nil, for the page saying a silence ended.
	Silence *SilenceEnded
	// Quiet is set, and Event nil, for a quiet summary: a throttle window
	// that held events back ended with no new event; Throttle holds what
	// it held back.
	Quiet bool
	// Storm is set, and Event nil, for a receiver's storm page: what its
	// budget held back in one period.
	Storm *Storm
	// Budget is set when the page was sent inside its receiver's budget
	// period: which page of the period it was.
	Budget *BudgetPage
	// Fallback is the receiver that takes this notification over once its
	// own receiver has been failing for FallbackAfter.
	Fallback      string
	FallbackAfter time.Duration
	// Link is the event's page in imalert's web UI (its decision trace);
	// empty when external_url is not set.
	Link string
	// MuteLink is a signed link that silences this page's rule and group
	// key for an hour without logging in; empty without external_url.
	MuteLink string

	// FirstDue is set on a dead letter requeued by hand: when it was first
	// due. CreatedAt is then the time it was requeued.
	FirstDue time.Time

	// Seq is the notification's position in the outbox, once written;
	// EventID the journal entry of Event.
	Seq     int64
	EventID int64
}

// ThresholdCount is how many matching events reached a rule's threshold,
// and whose they were.
type ThresholdCount struct {
	Count  int
	Within time.Duration
	// By is the wire name of the field counted by (GroupId or
	// From_Account; empty when the group key holds both), Top the values
	// with the most events, most first, and More how many other values
	// there were.
	By   string  `json:",omitempty"`
	Top  []Count `json:",omitempty"`
	More int     `json:",omitempty"`
}

// Rendered is a template's output for each medium, each escaped for it.
type Rendered struct {
	Text  string // console, email subject and plain-text part
	Slack string // Slack mrkdwn
	HTML  string // email HTML part, shown preformatted
}

// Reason names why a decision was taken; tests, logs, metrics and pages
// share it.
type Reason string

// Decision reasons. A page carries one of the first four; a digest none.
const (
	ReasonFirst     Reason = "first"          // no window open for this key
	ReasonExpired   Reason = "window_expired" // the previous window is over
	ReasonNoWindow  Reason = "no_throttle"    // the rule has no throttle
	ReasonFirstSeen Reason = "first_seen"     // first_seen: the key is new, and pages this once
	ReasonDigest    Reason = "digest"         // the rule summarises its events per interval

	ReasonThrottled      Reason = "throttled"       // inside an open window
	ReasonBelowThreshold Reason = "below_threshold" // fewer than threshold.count events within threshold.within
	ReasonSeenBefore     Reason = "seen_before"     // first_seen: the key has paged before
	ReasonSilenced       Reason = "silenced"        // an active silence matches the event
)

// Throttled summarises the events a throttle window held back. Its zero
// fields are left out of the outbox's JSON: most pages held nothing back,
// and three zero times were a third of such a page's row.
type Throttled struct {
	Window     time.Duration `json:"Window,omitzero"`     // the throttle window that held them back
	Next       time.Duration `json:"Next,omitzero"`       // the window opened by this page (longer under exponential backoff)
	Suppressed int           `json:"Suppressed,omitzero"` // events held back since the previous page
	Since      time.Time     `json:"Since,omitzero"`      // start of the window that held them back
	First      time.Time     `json:"First,omitzero"`      // first held-back event
	Last       time.Time     `json:"Last,omitzero"`       // last held-back event
}

// LogValue keeps payload content out of logs: only identifiers are logged.
func (n *Notification) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", n.ID),
		slog.String("rule", n.Rule),
		slog.String("receiver", n.Receiver),
	}
	if n.Event != nil {
		attrs = append(attrs, slog.Int64("error_code", n.Event.ErrorCode))
	}
	if n.Digest != nil {
		attrs = append(attrs, slog.Int("digest_events", n.Digest.Total))
	}
	return slog.GroupValue(attrs...)
}

// Notifier delivers a notification in one attempt. It classifies a failure
// by returning a *DeliveryError; any other error counts as retryable.
type Notifier interface {
	Notify(ctx context.Context, n *Notification) error
}

// ThreadNotifier is a Notifier that can continue an earlier message about
// the same incident (reply in its thread or update it). prev is the handle
// returned for the incident's previous message, or empty; the returned
// handle is passed as prev next time.
type ThreadNotifier interface {
	Notifier
	NotifyThread(ctx context.Context, n *Notification, prev string) (ref string, err error)
}

// DeliveryError is a failed delivery attempt, classified.
type DeliveryError struct {
	Retryable  bool
	Reason     string        // short, stable label for metrics, e.g. "http_500"
	RetryAfter time.Duration // the destination's requested wait, if any
	Err        error
}

func (e *DeliveryError) Error() string {
	kind := "permanent"
	if e.Retryable {
		kind = "retryable"
	}
	return fmt.Sprintf("%s failure (%s): %v", kind, e.Reason, e.Err)
}

func (e *DeliveryError) Unwrap() error { return e.Err }

// Retryable wraps err as a retryable delivery failure.
func Retryable(reason string, err error) error {
	return &DeliveryError{Retryable: true, Reason: reason, Err: err}
}

// Permanent wraps err as a delivery failure that retrying cannot fix.
func Permanent(reason string, err error) error {
	return &DeliveryError{Retryable: false, Reason: reason, Err: err}
}

// MaxRetryAfter caps a destination's requested wait: one absurd
// Retry-After must not hold a queue, and everything pacing with it, for a
// day.
const MaxRetryAfter = time.Hour

// Classify reads the retry decision out of a Notify error: whether to
// retry, a reason label for metrics, and the destination's requested wait
// (capped at MaxRetryAfter).
func Classify(err error) (retryable bool, reason string, after time.Duration) {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Retryable, de.Reason, min(de.RetryAfter, MaxRetryAfter)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true, "timeout", 0
	}
	return true, "error", 0
}

// NewID returns a fresh notification ID: the milliseconds since the
// epoch, then 48 random bits, in hex. IDs made later sort after, so the
// outbox's index of IDs grows at its end: random IDs made every insert
// rewrite a page somewhere in an index of hundreds of thousands.
func NewID() string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}
