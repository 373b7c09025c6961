package email

import (
	"strings"

	mail "github.com/wneessen/go-mail"

	"github.com/imalert/imalert/alert/notify"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the subject and the plain-text part
// of the mail Notify would send.
func (e *Notifier) Preview(n *notify.Notification) []notify.Field {
	m, err := Message(e.cfg, n)
	if err != nil {
		return []notify.Field{{Value: "cannot build the mail: " + err.Error()}}
	}
	out := []notify.Field{{Label: "subject", Value: strings.Join(m.GetGenHeader(mail.HeaderSubject), " ")}}
	for _, part := range m.GetParts() {
		if part.GetContentType() == mail.TypeTextPlain {
			c, _ := part.GetContent()
			out = append(out, notify.Field{Label: "text", Value: strings.TrimRight(string(c), "\n")})
		}
	}
	return out
}
