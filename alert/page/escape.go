package page

import "github.com/imalert/imalert/internal/escape"

// Clean makes s safe to show on one line: invalid UTF-8 becomes U+FFFD;
// control, format and separator characters (CR, LF, tabs, bidi overrides,
// zero-width joiners) become spaces; runs of spaces collapse; the result is
// cut to at most max runes, ending in "…" when cut. See escape.Clean.
func Clean(s string, max int) string { return escape.Clean(s, max) }

// Truncate cuts s to at most max runes, ending in "…" when cut, without
// splitting a UTF-8 sequence. Unlike Clean it keeps line breaks.
func Truncate(s string, max int) string { return escape.Truncate(s, max) }

// Slack escapes s for Slack mrkdwn and plain text: with &, < and > escaped,
// no payload can form a mention (<!channel>, <@U…>) or a disguised link
// (<http://x|y>).
func Slack(s string) string { return escape.Slack(s) }
