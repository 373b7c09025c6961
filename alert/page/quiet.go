package page

import (
	"fmt"
	"strconv"

	"github.com/imalert/imalert/alert/notify"
)

// buildQuiet lays out a quiet summary: a throttle window that held events
// back has ended and no new event came. "2 more events, the last at
// 20:56:05; quiet since".
func buildQuiet(n *notify.Notification) *Page {
	t := n.Throttle
	p := &Page{Severity: n.Severity, Rule: n.Rule}
	p.Title = severityMark(n.Severity) + " " + n.Severity + " · " + n.Rule + " summary"
	events := plural(t.Suppressed, "event", "events")
	p.Headline = fmt.Sprintf("%d more %s, the last at %s; quiet since", t.Suppressed, events, clock(t.Last))
	key := Clean(n.GroupKey, MaxField)
	p.Preview = fmt.Sprintf("[%s] %s in %s: %s", n.Severity, n.Rule, key, p.Headline)
	p.Subject = fmt.Sprintf("[imalert][%s] %s: %d more %s, quiet since %s", n.Severity, n.Rule, t.Suppressed, events, clock(t.Last))
	p.Fields = []Field{
		{"Key", key},
		{"Window", t.Since.UTC().Format(TimeLayout) + " – " + t.Since.Add(t.Window).UTC().Format(TimeLayout) + " (" + Duration(t.Window) + " throttle)"},
		{"Held", "first " + clock(t.First) + " · last " + clock(t.Last)},
	}
	if n.Merged > 0 {
		p.Footer = append(p.Footer, fmt.Sprintf("%d later %s merged in while delivery was delayed", n.Merged, plural(n.Merged, "page", "pages")))
	}
	p.Footer = append(p.Footer, "the next event pages again, with its own count")
	p.Footer = appendBudget(p.Footer, n.Budget)
	if n.RuleFile != "" {
		p.Footer = append(p.Footer, n.RuleFile+":"+strconv.Itoa(n.RuleLine))
	}
	return p
}
