package escape

import "unicode/utf8"

// TruncateBytes cuts s to at most max bytes, ending in marker when cut,
// without splitting a UTF-8 sequence: chat platforms count their limits in
// bytes, and a cut rune would make the whole message invalid.
func TruncateBytes(s string, max int, marker string) string {
	if len(s) <= max {
		return s
	}
	n := max - len(marker)
	if n < 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + marker
}
