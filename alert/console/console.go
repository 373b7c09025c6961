// Package console prints notifications to a writer, normally standard
// output: one summary line per page, then its fields indented below it, for
// journalctl and docker logs.
package console

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
)

// Notifier writes pages to W.
type Notifier struct {
	mu sync.Mutex
	w  io.Writer
}

// New returns a Notifier writing to w.
func New(w io.Writer) *Notifier { return &Notifier{w: w} }

// Notify implements notify.Notifier.
func (c *Notifier) Notify(_ context.Context, n *notify.Notification) error {
	text := page.Render(page.Build(n))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.w, text); err != nil {
		return notify.Retryable("write", fmt.Errorf("console: %w", err))
	}
	return nil
}
