package console

import (
	"strings"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the text Notify prints.
func (c *Notifier) Preview(n *notify.Notification) []notify.Field {
	return []notify.Field{{Value: strings.TrimRight(page.Render(page.Build(n)), "\n")}}
}
