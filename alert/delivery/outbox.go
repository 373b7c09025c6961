// Package delivery delivers the outbox: the Dispatcher runs one queue per
// receiver, merges what piles up, paces, retries with backoff, falls back
// and dead-letters what cannot be delivered. It also owns the outbox
// encoding of a notification and the Delivery view the API and CLI list.
package delivery

import (
	"encoding/json"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

// record is what the outbox keeps of a notification beyond the store's
// columns. The event itself stays in the journal and is parsed again, with
// the current parser, when the notification is delivered.
type record struct {
	RuleFile      string               `json:"rule_file,omitempty"`
	RuleLine      int                  `json:"rule_line,omitempty"`
	Severity      string               `json:"severity"`
	CodeMeaning   string               `json:"code_meaning,omitempty"`
	Throttle      notify.Throttled     `json:"throttle,omitzero"`
	Merged        int                  `json:"merged,omitempty"`
	Digest        *notify.Digest       `json:"digest,omitempty"`
	Silence       *notify.SilenceEnded `json:"silence,omitempty"`
	Quiet         bool                 `json:"quiet,omitempty"`
	Storm         *notify.Storm        `json:"storm,omitempty"`
	Fallback      string               `json:"fallback,omitempty"`
	FallbackAfter time.Duration        `json:"fallback_after,omitempty"`
	Link          string               `json:"link,omitempty"`
	MuteLink      string               `json:"mute_link,omitempty"`
	// Rendered at decision time: a reload that changes the rule's
	// templates does not change a page already decided.
	Reason    notify.Reason         `json:"reason,omitempty"`
	Threshold notify.ThresholdCount `json:"threshold,omitzero"`
	Title     notify.Rendered       `json:"title,omitzero"`
	Body      notify.Rendered       `json:"body,omitzero"`
	// FirstDue is when a requeued notification was first due (created).
	FirstDue time.Time `json:"first_due,omitzero"`
}

// Encode turns n into an outbox row.
func Encode(n *notify.Notification) store.Notification {
	data, _ := json.Marshal(record{ // plain data: cannot fail
		RuleFile: n.RuleFile, RuleLine: n.RuleLine, Severity: n.Severity, CodeMeaning: n.CodeMeaning,
		Throttle: n.Throttle, Merged: n.Merged, Digest: n.Digest, Silence: n.Silence, Quiet: n.Quiet, Storm: n.Storm, Fallback: n.Fallback, FallbackAfter: n.FallbackAfter,
		Reason: n.Reason, Threshold: n.Threshold, Title: n.Title, Body: n.Body, Link: n.Link, FirstDue: n.FirstDue, MuteLink: n.MuteLink,
	})
	return store.Notification{
		Seq: n.Seq, ID: n.ID, Receiver: n.Receiver, Rule: n.Rule, GroupKey: n.GroupKey,
		EventID: n.EventID, CreatedAt: n.CreatedAt, Data: data,
	}
}

// Decode turns an outbox row back into a notification. It never fails: a
// notification whose data or event cannot be read any more is still
// delivered (or listed), with what is left.
func Decode(row store.Notification, lim callback.Limits) (*notify.Notification, error) {
	var rec record
	err := json.Unmarshal(row.Data, &rec)
	n := &notify.Notification{
		ID: row.ID, Receiver: row.Receiver, Rule: row.Rule, GroupKey: row.GroupKey, CreatedAt: row.CreatedAt,
		RuleFile: rec.RuleFile, RuleLine: rec.RuleLine, Severity: rec.Severity, CodeMeaning: rec.CodeMeaning,
		Throttle: rec.Throttle, Merged: rec.Merged, Digest: rec.Digest, Silence: rec.Silence, Quiet: rec.Quiet, Storm: rec.Storm, Fallback: rec.Fallback, FallbackAfter: rec.FallbackAfter,
		Reason: rec.Reason, Threshold: rec.Threshold, Title: rec.Title, Body: rec.Body, Link: rec.Link, FirstDue: rec.FirstDue, MuteLink: rec.MuteLink,
		Seq: row.Seq, EventID: row.EventID,
	}
	if n.Severity == "" {
		n.Severity = callback.SeverityWarning
	}
	if n.Digest != nil {
		n.Digest.Init()
		return n, err
	}
	if n.Storm != nil && n.Storm.Digest != nil {
		n.Storm.Digest.Init()
	}
	if n.Silence != nil || n.Quiet || n.Storm != nil {
		return n, err
	}
	if row.Event != nil {
		ev, perr := row.Event.Parse(lim)
		if perr == nil {
			n.Event = ev
			return n, err
		}
		if err == nil {
			err = perr
		}
	}
	// The journal entry is gone or no longer parses: say so rather than
	// lose the page.
	n.Event = &callback.Event{Command: "unknown", ReceivedAt: n.CreatedAt}
	if row.Event != nil {
		n.Event.ReceivedAt = row.Event.Raw.ReceivedAt
	}
	return n, err
}

// merge folds later notifications for the same receiver, rule and group key
// into the first, so a backed-up destination gets one message instead of
// many: counts add up, and the first event stays the one shown.
func merge(group []*notify.Notification) *notify.Notification {
	head := *group[0]
	if head.Digest != nil {
		head.Digest = head.Digest.Clone()
	}
	for _, o := range group[1:] {
		if head.Digest != nil && o.Digest != nil {
			head.Digest.Merge(o.Digest)
			head.Merged += 1 + o.Merged
			continue
		}
		t := &head.Throttle
		if t.Since.IsZero() && head.Event != nil {
			t.Since = head.Event.ReceivedAt
		}
		own := 1 // the merged page's own event; a quiet summary has none
		if o.Quiet {
			own = 0
		}
		t.Suppressed += own + o.Throttle.Suppressed
		head.Merged += 1 + o.Merged
		at := o.CreatedAt
		if o.Event != nil && !o.Event.ReceivedAt.IsZero() {
			at = o.Event.ReceivedAt
		}
		for _, x := range []time.Time{o.Throttle.First, at} {
			if !x.IsZero() && (t.First.IsZero() || x.Before(t.First)) {
				t.First = x
			}
		}
		if o.Quiet {
			at = o.Throttle.Last
		}
		for _, x := range []time.Time{o.Throttle.Last, at} {
			if x.After(t.Last) {
				t.Last = x
			}
		}
	}
	return &head
}
