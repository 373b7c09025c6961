package slack

import (
	"strings"

	"github.com/slack-go/slack"

	"github.com/imalert/imalert/alert/notify"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the message's text as posted, the
// configured mentions leading it, then the attachment's blocks.
func (s *Notifier) Preview(n *notify.Notification) []notify.Field {
	text, att := s.message(n)
	out := []notify.Field{{Label: "text", Value: text}}
	for _, b := range att.Blocks.BlockSet {
		out = append(out, blockFields(b)...)
	}
	return out
}

// blockFields are the texts of one block, labelled with its kind; a
// field's label and value share one line.
func blockFields(b slack.Block) []notify.Field {
	var out []notify.Field
	switch b := b.(type) {
	case *slack.HeaderBlock:
		out = append(out, notify.Field{Label: "header", Value: b.Text.Text})
	case *slack.SectionBlock:
		if b.Text != nil {
			out = append(out, notify.Field{Label: "section", Value: b.Text.Text})
		}
		for _, f := range b.Fields {
			out = append(out, notify.Field{Label: "field", Value: strings.ReplaceAll(f.Text, "\n", " ")})
		}
	case *slack.ContextBlock:
		for _, e := range b.ContextElements.Elements {
			if t, ok := e.(*slack.TextBlockObject); ok {
				out = append(out, notify.Field{Label: "context", Value: t.Text})
			}
		}
	}
	return out
}
