package page

import (
	"fmt"
	"strings"
)

// Render formats p as plain text: the console's page, and the plain-text
// part of an email. Every value is already on one line (Clean), so a
// payload cannot forge extra log lines.
func Render(p *Page) string {
	var b strings.Builder
	fmt.Fprintf(&b, "PAGE %s\n", p.Preview)
	if body := p.CustomBody.Text; body != "" {
		// Template text may span lines; each value in it is on one line.
		for _, l := range strings.Split(body, "\n") {
			fmt.Fprintf(&b, "  %s\n", strings.TrimRight(l, " \t\r"))
		}
	} else {
		fmt.Fprintf(&b, "  %s\n", p.Headline)
		if p.ErrorInfo != "" {
			fmt.Fprintf(&b, "  %-9s %s\n", "Info", p.ErrorInfo)
		}
		for _, f := range p.Fields {
			// Digest tables are multi-line values: indent their rows.
			fmt.Fprintf(&b, "  %-9s %s\n", f.Label, strings.ReplaceAll(f.Value, "\n", "\n            "))
		}
		if p.Excerpt != "" {
			fmt.Fprintf(&b, "  %-9s %s\n", "Message", p.Excerpt)
		}
	}
	if len(p.Footer) > 0 {
		fmt.Fprintf(&b, "  %s\n", strings.Join(p.Footer, " · "))
	}
	return b.String()
}
