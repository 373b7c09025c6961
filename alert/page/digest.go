package page

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/imalert/imalert/alert/notify"
)

// DigestTop is how many groups and senders a digest lists.
const DigestTop = 5

// buildDigest lays out a rule's periodic summary: counts by error code and
// group type, the top groups and senders, and the window. Each table is one
// field with a line per row.
func buildDigest(n *notify.Notification) *Page {
	d := n.Digest
	p := &Page{Severity: n.Severity, Rule: n.Rule}
	p.Title = severityMark(n.Severity) + " " + n.Severity + " · " + n.Rule + " digest"
	window := clock(d.Start) + " – " + clock(d.End)
	p.Headline = fmt.Sprintf("%d %s in %s (%s)", d.Total, plural(d.Total, "event", "events"), Duration(d.End.Sub(d.Start)), window)
	p.Preview = fmt.Sprintf("[%s] %s digest: %d %s, %s", n.Severity, n.Rule, d.Total, plural(d.Total, "event", "events"), window)
	p.Subject = fmt.Sprintf("[imalert][%s] %s digest: %d %s", n.Severity, n.Rule, d.Total, plural(d.Total, "event", "events"))
	table := func(label string, rows []notify.Count, other int, max int) {
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
	table("Error codes", notify.Top(d.ByCode, 0), 0, 32)
	table("Group types", notify.Top(d.ByGroupType, 0), 0, 32)
	// "others" are the events of every group (sender) not listed: beyond
	// the top few, and beyond the names a digest keeps.
	top := func(m map[string]int, untracked int) ([]notify.Count, int) {
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
	groups, otherGroups := top(d.Groups, d.OtherGroups)
	senders, otherSenders := top(d.Senders, d.OtherSenders)
	table("Top groups", groups, otherGroups, 64)
	table("Top senders", senders, otherSenders, 64)
	p.Fields = append(p.Fields, Field{"Window", d.Start.UTC().Format(TimeLayout) + " – " + d.End.UTC().Format(TimeLayout)})
	if n.Merged > 0 {
		p.Footer = append(p.Footer, fmt.Sprintf("%d later %s merged in while delivery was delayed", n.Merged, plural(n.Merged, "digest", "digests")))
	}
	if n.RuleFile != "" {
		p.Footer = append(p.Footer, n.RuleFile+":"+strconv.Itoa(n.RuleLine))
	}
	return p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
