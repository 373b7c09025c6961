package page

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/imalert/imalert/alert/notify"
)

// buildStorm lays out a storm page: the receiver's budget was spent, and
// this one page stands for every page held in the period, as one compact
// table: by rule, by error code, the top groups and senders.
func buildStorm(n *notify.Notification) *Page {
	s := n.Storm
	p := &Page{Severity: n.Severity, Rule: n.Rule}
	held := fmt.Sprintf("%d %s held", s.Held, plural(s.Held, "page", "pages"))
	p.Title = severityMark(n.Severity) + " storm · " + held
	window := clock(s.Start) + " – " + clock(s.End)
	p.Headline = fmt.Sprintf("%s (%d %s) over the budget of %d per %s; %d sent (%s)",
		held, s.Events, plural(s.Events, "event", "events"), s.Pages, Duration(s.Per), s.Sent, window)
	p.Preview = "[" + n.Severity + "] storm: " + p.Headline
	p.Subject = fmt.Sprintf("[imalert][storm] %s, %d %s, %s", held, s.Events, plural(s.Events, "event", "events"), window)
	table := func(label string, rows []notify.Count, other, max int) {
		var lines []string
		for _, r := range rows {
			lines = append(lines, Clean(r.Name, max)+" ×"+strconv.Itoa(r.Count))
		}
		if other > 0 {
			lines = append(lines, "others ×"+strconv.Itoa(other))
		}
		if len(lines) > 0 {
			p.Fields = append(p.Fields, Field{label, strings.Join(lines, "\n")})
		}
	}
	table("Rules", notify.Top(s.ByRule, 0), 0, MaxField)
	if d := s.Digest; d != nil && d.Total > 0 {
		table("Error codes", notify.Top(d.ByCode, 0), 0, 32)
		groups, otherGroups := topWithRest(d.Groups, d.OtherGroups)
		senders, otherSenders := topWithRest(d.Senders, d.OtherSenders)
		table("Top groups", groups, otherGroups, 64)
		table("Top senders", senders, otherSenders, 64)
	}
	p.Fields = append(p.Fields, Field{"Period", s.Start.UTC().Format(TimeLayout) + " – " + s.End.UTC().Format(TimeLayout)})
	p.Footer = []string{fmt.Sprintf("budget %d pages per %s: the budget resets now; held pages are listed by imalert deliveries --state merged", s.Pages, Duration(s.Per))}
	return p
}

// appendBudget adds to footer which page of its receiver's budget period
// this is, when it is in one.
func appendBudget(footer []string, b *notify.BudgetPage) []string {
	if b == nil {
		return footer
	}
	line := fmt.Sprintf("page %d of %d in this %s budget period", b.N, b.Pages, Duration(b.Per))
	if b.N >= b.Pages {
		line += ": further pages are held until its storm page"
	}
	return append(footer, line)
}

// topWithRest returns the top DigestTop names of m and the count of all
// the others, untracked ones included.
func topWithRest(m map[string]int, untracked int) ([]notify.Count, int) {
	rows := notify.Top(m, DigestTop)
	rest := untracked
	for _, n := range m {
		rest += n
	}
	for _, r := range rows {
		rest -= r.Count
	}
	return rows, rest
}
