package page

import (
	"fmt"
	"strings"

	"github.com/imalert/imalert/alert/notify"
)

// buildSilenceEnded lays out the page saying a silence ended: who set it
// and why, what it held, and whether the problem is still happening.
func buildSilenceEnded(n *notify.Notification) *Page {
	s := n.Silence
	p := &Page{Severity: n.Severity, Rule: n.Rule}
	p.Title = severityMark(n.Severity) + " silence ended · " + Clean(n.Rule, MaxField)
	groups := fmt.Sprintf("%d %s", s.Groups, plural(s.Groups, "group", "groups"))
	if s.GroupsMore {
		groups = "more than " + groups
	}
	still := "no"
	if s.StillHappening {
		still = "yes"
	}
	author, comment := Clean(s.Author, 100), Clean(s.Comment, MaxField)
	p.Headline = fmt.Sprintf("silence by %s ('%s') held %d %s in %s; still happening: %s",
		author, comment, s.Events, plural(s.Events, "event", "events"), groups, still)
	p.Preview = "[" + n.Severity + "] " + p.Headline
	p.Subject = fmt.Sprintf("[imalert][silence ended] %s: %d %s held; still happening: %s", author, s.Events, plural(s.Events, "event", "events"), still)
	how := "ran out"
	if s.Expired {
		how = "expired by hand"
	}
	p.Fields = []Field{
		{"Silence", s.ID},
		{"Rules", Clean(strings.Join(s.Rules, ", "), MaxField)},
		{"Active", s.StartsAt.UTC().Format(TimeLayout) + " – " + s.EndsAt.UTC().Format(TimeLayout) + " (" + how + ")"},
		{"Held", "first " + clock(s.First) + " · last " + clock(s.Last)},
	}
	p.Footer = []string{fmt.Sprintf("still happening means an event was held within %s of the end", Duration(notify.StillHappeningWindow))}
	p.Footer = appendBudget(p.Footer, n.Budget)
	return p
}
