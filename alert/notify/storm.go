package notify

import "time"

// KindStorm names a storm page.
const KindStorm = "storm"

// BudgetPage places a page in its receiver's budget period: the Nth of at
// most Pages per Per.
type BudgetPage struct {
	N     int           `json:"n"`
	Pages int           `json:"pages"`
	Per   time.Duration `json:"per"`
}

// Storm is what a receiver's budget period held back: the storm page sent
// at the period's end stands for every page it held.
type Storm struct {
	Start time.Time `json:"start"` // the budget period
	End   time.Time `json:"end"`
	// Pages and Per are the budget: at most Pages pages per Per.
	Pages int           `json:"pages"`
	Per   time.Duration `json:"per"`
	// Sent is how many pages went out in the period, Held how many were
	// held: this page stands for them.
	Sent int `json:"sent"`
	Held int `json:"held"`
	// Events is how many events the held pages stood for: their own and
	// what their throttle windows had held back.
	Events int `json:"events"`
	// ByRule counts the held pages by rule.
	ByRule map[string]int `json:"by_rule"`
	// Digest counts the held pages' events by error code and group type,
	// and names the top groups and senders.
	Digest *Digest `json:"digest"`
}
