package delivery

import (
	"maps"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

// HeldPages is what pages held over a budget add up to: a storm page's
// counts, without its budget and times.
type HeldPages struct {
	Held   int // pages
	Events int // their events and what their windows held back
	// ByRule counts the pages by rule, Severities by severity.
	ByRule, Severities map[string]int
	// Digest counts the pages' events by error code and group type, and
	// names the top groups and senders.
	Digest *notify.Digest
}

// NewHeldPages returns an empty count.
func NewHeldPages() *HeldPages {
	return &HeldPages{ByRule: map[string]int{}, Severities: map[string]int{}, Digest: notify.NewDigest(time.Time{}, 0)}
}

// add counts one held page.
func (h *HeldPages) add(n *notify.Notification) {
	h.Held++
	h.ByRule[n.Rule]++
	h.Severities[n.Severity]++
	h.Events += 1 + n.Throttle.Suppressed
	if n.Kind() != notify.KindEvent {
		h.Events-- // a summary or notice has no event of its own
	} else if n.Event != nil {
		h.Digest.Add(n.Event)
	}
}

// addRows counts held outbox rows.
func (h *HeldPages) addRows(rows []store.Notification, lim callback.Limits) {
	for _, r := range rows {
		n, _ := Decode(r, lim) // a page partly unreadable still counts
		h.add(n)
	}
}

// severity is the highest severity of the pages counted.
func (h *HeldPages) severity() string {
	severity := callback.SeverityInfo
	for s, n := range h.Severities {
		if n > 0 && rank(s) > rank(severity) {
			severity = s
		}
	}
	return severity
}

// storm is the storm page's body for the pages counted in period p.
func (h *HeldPages) storm(p store.BudgetPeriod, b Budget, now time.Time) *notify.Storm {
	end := p.Start.Add(b.Per)
	if b.Pages <= 0 || now.Before(end) {
		end = now
	}
	d := notify.NewDigest(p.Start, end.Sub(p.Start))
	d.Merge(h.Digest)
	d.Start, d.End = p.Start, end
	return &notify.Storm{Start: p.Start, End: end, Pages: b.Pages, Per: b.Per, Sent: p.Sent, Held: h.Held,
		Events: h.Events, ByRule: maps.Clone(h.ByRule), Digest: d}
}

func rank(severity string) int {
	switch severity {
	case callback.SeverityCritical:
		return 2
	case callback.SeverityWarning:
		return 1
	}
	return 0
}
