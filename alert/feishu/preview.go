package feishu

import (
	"strings"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
)

var _ notify.Previewer = (*Notifier)(nil)

// Preview implements notify.Previewer: the card Notify would post, header
// first, then each element's texts labelled with its tag.
func (f *Notifier) Preview(n *notify.Notification) []notify.Field {
	c := f.Message(page.Build(n)).Card
	out := []notify.Field{{Label: "header", Value: "[" + c.Header.Template + "] " + c.Header.Title.Content}}
	for _, e := range c.Elements {
		if e.Text != nil {
			out = append(out, notify.Field{Label: e.Tag, Value: e.Text.Content})
		}
		for _, fl := range e.Fields {
			out = append(out, notify.Field{Label: "field", Value: strings.ReplaceAll(fl.Text.Content, "\n", " ")})
		}
		for _, b := range e.Actions {
			out = append(out, notify.Field{Label: "button", Value: b.Text.Content + " → " + b.URL})
		}
		for _, t := range e.Elements {
			out = append(out, notify.Field{Label: e.Tag, Value: t.Content})
		}
	}
	return out
}
