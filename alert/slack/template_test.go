package slack

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/rules/rulestest"
)

// Slack control sequences: mentions, channel links, links.
var liveSequence = regexp.MustCompile(`<[!@#][^>]*>|<https?:[^>]*>`)

// A rule's templates reach Slack with every event value escaped: only what
// the template itself says can be live.
func TestMessageTemplatedHostile(t *testing.T) {
	e := rulestest.Compile(t, `rules:
  - name: templated
    receivers: [ops-slack]
    title: "<!here> {{.ErrorCode}} from {{.From}} {{.Field \"From_Account\"}} {{printf \"%s\" .Text}}"
    body: |
      *Sender* {{.From | truncate 100}} <@U999>
      > {{.Text}} {{.Excerpt}} {{.CloudCustomData}} {{upper .From}}
`, "ops-slack")
	ev := testutil.SampleEvent(t, "send-msg-exception.hostile-text.json")
	outs, _ := alert.NewPipeline(alert.PipelineOptions{Rules: e}).Evaluate(ev, nil)
	text, att := Message(page.Build(outs[0].Notifications[0]))
	raw, err := json.Marshal(struct {
		Text string
		Att  any
	}{text, att})
	if err != nil {
		t.Fatal(err)
	}
	var decoded any
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	all := testutil.JSONStrings(decoded)
	live := liveSequence.FindAllString(strings.Join(all, "\n"), -1)
	for _, l := range live {
		if l != "<!here>" && l != "<@U999>" {
			t.Errorf("live sequence %q from event data in the Slack message:\n%s", l, raw)
		}
	}
	if !strings.HasPrefix(text, "<!here> 10023 from &lt;!channel&gt;") {
		t.Errorf("text = %q", text)
	}
	if got := strings.Count(strings.Join(live, " "), "<!here>"); got != 2 { // the template's, in text and fallback
		t.Errorf("the template's own mention appears %d times, want 2 (text and fallback): %v", got, live)
	}
}
