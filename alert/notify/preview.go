package notify

// Field is one labelled line of a preview, in the order the destination
// shows it; a value may span lines. An empty Label is a line of text.
type Field struct {
	Label, Value string
}

// Previewer is a Notifier that can show what it would send for n, without
// sending anything: `imalert test` prints the fields. A preview never
// shows a secret (webhook URL, token, password).
type Previewer interface {
	Preview(n *Notification) []Field
}
