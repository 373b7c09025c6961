package feishu

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
)

// The preview walks the card the bot receives: the coloured header, the
// texts, each field on one line, the mentions, the button and the note.
func TestPreviewIsWhatIsPosted(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, "", okAnswer)
	f := newNotifier(bot, config.FeishuReceiver{BotFields: config.BotFields{MentionUsers: []string{"ou_7d8a6e6df7621556ce0d21922b676706"}}}, "https://imalert.example.com")
	n := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	if err := f.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := json.Unmarshal(bot.Requests()[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	got := f.Preview(n)
	var labels []string
	for _, fl := range got {
		labels = append(labels, fl.Label)
	}
	nFields := len(m.Card.Elements[1].Fields)
	want := []string{"header", "div"}
	for range nFields {
		want = append(want, "field")
	}
	want = append(want, "div", "div", "button", "note")
	if d := cmp.Diff(want, labels); d != "" {
		t.Fatalf("labels (-want +got):\n%s", d)
	}
	c := m.Card
	checks := map[int]string{
		0:               "[" + c.Header.Template + "] " + c.Header.Title.Content,
		1:               c.Elements[0].Text.Content,
		2 + nFields + 1: "<at id=ou_7d8a6e6df7621556ce0d21922b676706></at>",
		2 + nFields + 2: "Open imalert → https://imalert.example.com",
		2 + nFields + 3: c.Elements[5].Elements[0].Content,
	}
	for i, v := range checks {
		if got[i].Value != v {
			t.Errorf("preview line %d (%s) = %q, posted %q", i, got[i].Label, got[i].Value, v)
		}
	}
}
