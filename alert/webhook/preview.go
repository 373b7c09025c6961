package webhook

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/imalert/imalert/alert/notify"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the body Notify would post (the
// payload, or body_template's output), indented for reading. Headers are
// left out: they may carry secrets.
func (w *Notifier) Preview(n *notify.Notification) []notify.Field {
	b, err := w.body(n)
	if err != nil {
		var de *notify.DeliveryError
		if errors.As(err, &de) {
			err = de.Err
		}
		return []notify.Field{{Value: "cannot build the body: " + err.Error()}}
	}
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return []notify.Field{{Label: "body", Value: string(b)}}
	}
	return []notify.Field{{Label: "body", Value: out.String()}}
}
