package wecom

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
)

// The preview is the content the robot receives, mentions included, as
// markdown or as text (mentions by mobile).
func TestPreviewIsWhatIsPosted(t *testing.T) {
	tests := []struct {
		name  string
		cfg   config.WeComReceiver
		label string
	}{
		{"markdown", config.WeComReceiver{BotFields: config.BotFields{MentionUsers: []string{"zhangsan"}}}, "markdown"},
		{"text", config.WeComReceiver{MentionMobiles: []string{"13800000000"}}, "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bot := testutil.NewChatBot(t, hookPath, hookKey, okAnswer)
			w := newNotifier(bot, tt.cfg)
			n := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
			if err := w.Notify(context.Background(), n); err != nil {
				t.Fatal(err)
			}
			m := decode(t, bot.Requests()[0].Body)
			content := ""
			if m.Markdown != nil {
				content = m.Markdown.Content
			} else if m.Text != nil {
				content = m.Text.Content
			}
			if d := cmp.Diff([]notify.Field{{Label: tt.label, Value: content}}, w.Preview(n)); d != "" {
				t.Errorf("preview (-posted +preview):\n%s", d)
			}
		})
	}
}
