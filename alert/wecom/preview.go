package wecom

import (
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the message's content, as text
// or markdown as Notify would post it.
func (w *Notifier) Preview(n *notify.Notification) []notify.Field {
	m := w.Message(page.Build(n))
	if m.Text != nil {
		return []notify.Field{{Label: "text", Value: m.Text.Content}}
	}
	return []notify.Field{{Label: "markdown", Value: m.Markdown.Content}}
}
