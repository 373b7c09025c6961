package callback

import (
	"strconv"
	"sync/atomic"
	"time"
)

// RequestID names the callback request received at t. The server gives
// every request its own receive time (Clock), so the id is unique, costs
// no storage, and the journal, the logs and the trace agree on it.
func RequestID(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixNano(), 36)
}

// Clock hands out strictly increasing receive times: two requests in the
// same nanosecond (or on a coarse clock) get distinct times, 1ns apart.
type Clock struct {
	last atomic.Int64
}

// Stamp returns now, or 1ns after the previous stamp if now is not later.
func (c *Clock) Stamp(now time.Time) time.Time {
	n := now.UnixNano()
	for {
		last := c.last.Load()
		if n <= last {
			n = last + 1
		}
		if c.last.CompareAndSwap(last, n) {
			return time.Unix(0, n).In(now.Location())
		}
	}
}
