package rules

import (
	"time"

	"github.com/imalert/imalert/callback"
)

// MatchTimed is Match, and also reports to observe how long each candidate
// rule's conditions took on ev, on clock now. It costs two clock reads per
// candidate: callers sample events rather than time every one.
func (e *Engine) MatchTimed(ev *callback.Event, dst []*Rule, now func() time.Time, observe func(r *Rule, took time.Duration)) []*Rule {
	if now == nil {
		now = time.Now
	}
	return e.match(ev, dst, now, observe)
}
