package dingtalk

import (
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the markdown message's title and
// text, as Notify would post them.
func (d *Notifier) Preview(n *notify.Notification) []notify.Field {
	m := d.Message(page.Build(n))
	return []notify.Field{{Label: "title", Value: m.Markdown.Title}, {Label: "markdown", Value: m.Markdown.Text}}
}
