package notify

import "time"

// SilenceEnded is what a silence held, reported when it ended.
type SilenceEnded struct {
	ID       string    `json:"id"`
	Author   string    `json:"author"`
	Comment  string    `json:"comment"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	// Expired is set when the silence was expired before its planned end.
	Expired bool `json:"expired,omitempty"`
	// Events is how many events the silence held, Groups in how many
	// distinct IM groups; GroupsMore is set when there were more groups
	// than were kept track of, Groups being a lower bound.
	Events     int  `json:"events"`
	Groups     int  `json:"groups"`
	GroupsMore bool `json:"groups_more,omitempty"`
	// Rules are the rules whose matches the silence held, in name order.
	Rules []string `json:"rules"`
	// First and Last are the receive times of the first and last event held.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// StillHappening is set when an event was held within
	// StillHappeningWindow of the end.
	StillHappening bool `json:"still_happening"`
}

// StillHappeningWindow is how close to a silence's end an event must have
// been held for the problem to count as still happening.
const StillHappeningWindow = 5 * time.Minute

// Kinds of page, as the webhook payload and the deliveries listing name
// them.
const (
	KindEvent        = "event"
	KindDigest       = "digest"
	KindSilenceEnded = "silence_ended"
	KindSummary      = "summary"
)

// Kind names what n is about.
func (n *Notification) Kind() string {
	switch {
	case n.Silence != nil:
		return KindSilenceEnded
	case n.Storm != nil:
		return KindStorm
	case n.Digest != nil:
		return KindDigest
	case n.Quiet:
		return KindSummary
	}
	return KindEvent
}
