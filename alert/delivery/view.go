package delivery

import (
	"encoding/json"
	"time"

	"github.com/imalert/imalert/store"
)

// Delivery is an outbox row as the API and the CLI show it: identifiers,
// state and history, never payload content or destination secrets.
type Delivery struct {
	ID            string     `json:"id"`
	Receiver      string     `json:"receiver"`
	Rule          string     `json:"rule"`
	GroupKey      string     `json:"group_key"`
	Severity      string     `json:"severity"`
	Kind          string     `json:"kind"` // "event", "digest", "summary", "storm" or "silence_ended"
	State         string     `json:"state"`
	CreatedAt     time.Time  `json:"created_at"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error,omitempty"`
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	DoneAt        *time.Time `json:"done_at,omitempty"`
	// Suppressed and Merged are the counts the notification carries.
	Suppressed int    `json:"suppressed"`
	Merged     int    `json:"merged"`
	Fallback   string `json:"fallback,omitempty"`
	EventID    int64  `json:"event_id,omitempty"`
}

// Deliveries turns outbox rows into their public view.
func Deliveries(rows []store.Notification) []Delivery {
	out := make([]Delivery, 0, len(rows))
	for _, r := range rows {
		var rec record
		_ = json.Unmarshal(r.Data, &rec) // a bad record still lists its columns
		d := Delivery{
			ID: r.ID, Receiver: r.Receiver, Rule: r.Rule, GroupKey: r.GroupKey, Severity: rec.Severity,
			Kind: "event", State: string(r.State), CreatedAt: r.CreatedAt, Attempts: r.Attempts, LastError: r.LastError,
			Suppressed: rec.Throttle.Suppressed, Merged: rec.Merged, Fallback: rec.Fallback, EventID: r.EventID,
		}
		if rec.Digest != nil {
			d.Kind = "digest"
			d.Suppressed = rec.Digest.Total
		}
		if rec.Silence != nil {
			d.Kind = "silence_ended"
		}
		if rec.Quiet {
			d.Kind = "summary"
		}
		if rec.Storm != nil {
			d.Kind = "storm"
			d.Suppressed = rec.Storm.Held
		}
		if !r.LastAttemptAt.IsZero() {
			t := r.LastAttemptAt
			d.LastAttemptAt = &t
		}
		if !r.DoneAt.IsZero() {
			t := r.DoneAt
			d.DoneAt = &t
		}
		out = append(out, d)
	}
	return out
}
