package dingtalk

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
)

// The preview is the title and markdown text the robot receives, the
// configured mentions at the end of the text.
func TestPreviewIsWhatIsPosted(t *testing.T) {
	bot := testutil.NewChatBot(t, hookPath, token, okAnswer)
	d := newNotifier(bot, config.DingTalkReceiver{MentionMobiles: []string{"13800000000"}})
	n := notification(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"))
	if err := d.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	m := decode(t, bot.Requests()[0].Body)
	want := []notify.Field{{Label: "title", Value: m.Markdown.Title}, {Label: "markdown", Value: m.Markdown.Text}}
	got := d.Preview(n)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("preview (-posted +preview):\n%s", diff)
	}
	if !strings.HasSuffix(got[1].Value, "@13800000000") {
		t.Errorf("preview text does not end with the mention:\n%s", got[1].Value)
	}
}
