// Package page lays out the content of a notification once, as plain
// strings, for every receiver to render: Slack, email and console show the
// same facts in the same order. Payload-derived values are cleaned (control
// characters removed, invalid UTF-8 replaced) and truncated here; escaping
// for a medium is the receiver's job, with the helpers in this package.
package page

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
)

// Length limits for payload-derived values, in runes.
const (
	MaxField     = 200
	MaxErrorInfo = 300
	MaxExcerpt   = 500
)

// Page is the content of one notification.
type Page struct {
	Severity string
	Rule     string
	// Title is the first thing read: severity and rule.
	Title string
	// Headline is the error code and its meaning, or the callback command
	// for events without an error code.
	Headline  string
	ErrorInfo string
	// Preview is the one-line summary shown in notification previews.
	Preview string
	// Subject is the email subject line.
	Subject string
	Fields  []Field
	Excerpt string
	// Footer holds the throttle summary and the rule's source, in order.
	Footer []string
	// CustomTitle and CustomBody are the rule's title and body templates,
	// rendered and escaped for each medium; empty when the rule has none.
	// A title replaces Preview (and the email subject's text), a body the
	// headline, fields and excerpt. The footer always stays.
	CustomTitle, CustomBody notify.Rendered
	// Link is the event's trace in imalert's web UI; empty without
	// external_url. The footer shows it too.
	Link string
	// MuteLink silences the page's rule and group key for an hour; empty
	// without external_url. The footer shows it too.
	MuteLink string
}

// Field is a labelled value.
type Field struct {
	Label string
	Value string
}

// TimeLayout is how pages show times.
const TimeLayout = "2006-01-02 15:04:05.000 MST"

// Build lays out n.
func Build(n *notify.Notification) *Page {
	if n.Digest != nil {
		return buildDigest(n)
	}
	if n.Silence != nil {
		return buildSilenceEnded(n)
	}
	if n.Quiet {
		return buildQuiet(n)
	}
	if n.Storm != nil {
		return buildStorm(n)
	}
	ev := n.Event
	p := &Page{Severity: n.Severity, Rule: n.Rule, CustomTitle: n.Title, CustomBody: n.Body, Link: n.Link, MuteLink: n.MuteLink}
	p.Title = severityMark(n.Severity) + " " + n.Severity + " · " + n.Rule
	whose := Whose(n)
	if whose != "" {
		p.Title += " · " + whose
	}
	hasCode := ev.Present.Has(callback.FieldErrorCode)
	code := ""
	if hasCode {
		code = strconv.FormatInt(ev.ErrorCode, 10)
		p.Headline = code + " — " + n.CodeMeaning
	} else {
		p.Headline = ev.Command
	}
	p.ErrorInfo = Clean(ev.ErrorInfo, MaxErrorInfo)

	group := Clean(ev.GroupID, MaxField)
	if ev.GroupType != "" {
		group += " (" + Clean(ev.GroupType, 32) + ")"
	}
	sender := Clean(ev.FromAccount, MaxField)

	p.summarise(n, code, group, whose)

	add := func(label, value string) {
		if value != "" {
			p.Fields = append(p.Fields, Field{label, value})
		}
	}
	add("Group", group)
	add("Sender", sender)
	add("App", strconv.FormatUint(ev.AppID, 10))
	add("Platform", Clean(ev.OptPlatform, 32))
	if t := ev.Time(); !t.IsZero() {
		add("Event", t.UTC().Format(TimeLayout))
	}
	add("Operator", Clean(ev.OperatorAccount, MaxField))
	if !hasCode || ev.Command != callback.CommandSendMsgException {
		add("Command", ev.Command)
	}
	p.Excerpt = Clean(ev.Excerpt(), MaxExcerpt)

	p.Footer = footer(n)
	return p
}

// summarise sets the preview and the email subject of the page of n. The
// subject names the group key (whose), so that pages for different keys of
// one rule read apart in an inbox; a rule without group_by names the group.
func (p *Page) summarise(n *notify.Notification, code, group, whose string) {
	// Preview: [warning] 10023 group-rate-limit in @TGS#2J4SZEAEL (Public) from jared
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] ", n.Severity)
	if code != "" {
		b.WriteString(code + " ")
	}
	b.WriteString(n.Rule)
	if group != "" {
		b.WriteString(" in " + group)
	}
	if sender := Clean(n.Event.FromAccount, MaxField); sender != "" {
		b.WriteString(" from " + sender)
	}
	p.Preview = b.String()

	subj := "[imalert][" + n.Severity + "] "
	if code != "" {
		subj += code + " "
	}
	subj += n.Rule
	if whose != "" {
		subj += " for " + whose
	} else if n.Event.GroupID != "" {
		subj += " in " + Clean(n.Event.GroupID, 64)
	}
	if p.CustomTitle.Text != "" {
		p.Preview = p.CustomTitle.Text
		subj = "[imalert][" + n.Severity + "] " + p.CustomTitle.Text
	}
	if s := n.Throttle.Suppressed; s > 0 {
		subj += fmt.Sprintf(" (+%d suppressed)", s)
	}
	p.Subject = subj
}

// footer is the throttle summary and the rule's source of n's page.
func footer(n *notify.Notification) []string {
	var out []string
	if th := n.Threshold; th.Count > 0 {
		out = append(out, fmt.Sprintf("threshold reached: %d within %s", th.Count, Duration(th.Within)))
		if line := countedLine(th); line != "" {
			out = append(out, line)
		}
	}
	t := n.Throttle
	if t.Suppressed > 0 {
		line := fmt.Sprintf("%d more suppressed since %s (%s throttle) · first %s · last %s",
			t.Suppressed, clock(t.Since), Duration(t.Window), clock(t.First), clock(t.Last))
		if t.Next > t.Window {
			line += " · next window " + Duration(t.Next)
		}
		out = append(out, line)
	} else if n.Reason == notify.ReasonFirstSeen {
		out = append(out, "first seen: later events with this key do not page")
	} else if t.Window > 0 {
		out = append(out, "repeats held back for "+Duration(t.Window))
	}
	if n.Merged > 0 {
		out = append(out, fmt.Sprintf("%d later %s merged in while delivery was delayed", n.Merged, plural(n.Merged, "page", "pages")))
	}
	out = appendBudget(out, n.Budget)
	if !n.FirstDue.IsZero() {
		out = append(out, "requeued: first due "+n.FirstDue.UTC().Format(TimeLayout))
	}
	if n.Event.Truncated {
		// Rules saw only the first callback.limits.max_text_bytes of some
		// text: say so, since a condition on the rest could not match.
		out = append(out, "long text in the callback was cut to callback.limits.max_text_bytes before matching")
	}
	if lo := n.Event.LeftOut; lo.Any() {
		// Rules never saw these parts of the body.
		out = append(out, leftOutLine(lo))
	}
	if n.GroupKey != "" {
		out = append(out, "key "+Clean(n.GroupKey, MaxField))
	}
	if n.RuleFile != "" {
		out = append(out, n.RuleFile+":"+strconv.Itoa(n.RuleLine))
	}
	if n.Link != "" {
		out = append(out, "trace "+n.Link)
	}
	if n.MuteLink != "" {
		out = append(out, "mute 1 h "+n.MuteLink)
	}
	return out
}

// leftOutLine says what callback.limits cut from the event's body.
func leftOutLine(lo callback.LeftOut) string {
	var parts []string
	for _, c := range []struct {
		n          int
		one, other string
	}{{lo.Elements, "message element", "message elements"}, {lo.Fields, "body field", "body fields"}, {lo.Events, "batch event", "batch events"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, plural(c.n, c.one, c.other)))
		}
	}
	return strings.Join(parts, ", ") + " left out by callback.limits before matching"
}

func severityMark(s string) string {
	switch s {
	case callback.SeverityCritical:
		return "🔴"
	case callback.SeverityWarning:
		return "🟠"
	default:
		return "🔵"
	}
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05 MST")
}

// Duration formats d compactly: 10m, 1h30m, 45s, 2d.
func Duration(d time.Duration) string { return yamlfile.FormatDuration(d) }
