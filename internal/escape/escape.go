// Package escape makes untrusted text safe to show: on one line, within a
// length, and escaped for the medium (Slack mrkdwn, HTML). It is the one
// implementation both the page layout and rule templates use, so every
// payload value is treated the same wherever it appears.
package escape

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean makes s safe to show on one line: invalid UTF-8 becomes U+FFFD;
// control, format and separator characters (CR, LF, tabs, bidi overrides,
// zero-width joiners) become spaces; runs of spaces collapse; the result is
// cut to at most max runes, ending in "…" when cut. It never splits a UTF-8
// sequence, and stops reading s once the result is full.
func Clean(s string, max int) string {
	if max <= 0 {
		return ""
	}
	var b strings.Builder
	n := 0
	space := false
	for _, r := range s { // invalid bytes arrive as utf8.RuneError (U+FFFD)
		if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			space = n > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
		if n > max {
			break
		}
	}
	return Truncate(b.String(), max)
}

// Truncate cuts s to at most max runes, ending in "…" when cut, without
// splitting a UTF-8 sequence. Unlike Clean it keeps line breaks.
func Truncate(s string, max int) string {
	if max <= 0 {
		return ""
	}
	n := 0
	for i := range s {
		if n == max-1 && utf8.RuneCountInString(s[i:]) > 1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Slack escapes s for Slack mrkdwn and plain text: with &, < and > escaped,
// no payload can form a mention (<!channel>, <@U…>) or a disguised link
// (<http://x|y>).
func Slack(s string) string { return slackEscaper.Replace(s) }

// HTML escapes s for HTML text and attribute values.
func HTML(s string) string { return html.EscapeString(s) }
