// Package console prints notifications to a writer, normally standard
// output: one summary line per page, then its fields indented below it, for
// journalctl and docker logs.
package console

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/page"
)

// Notifier writes pages to W.
type Notifier struct {
	mu sync.Mutex
	w  io.Writer
}

// New returns a Notifier writing to w.
func New(w io.Writer) *Notifier { return &Notifier{w: w} }

// Notify implements alert.Notifier.
func (c *Notifier) Notify(_ context.Context, n *alert.Notification) error {
	text := Render(page.Build(n))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.w, text); err != nil {
		return alert.Retryable("write", fmt.Errorf("console: %w", err))
	}
	return nil
}

// Render formats p as console text. Every value is already on one line
// (page.Clean), so a payload cannot forge extra log lines.
func Render(p *page.Page) string {
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
