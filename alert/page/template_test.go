package page_test

import (
	"strings"
	"testing"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/rules/rulestest"
)

// templated returns the notification the pipeline builds for the hostile
// sample under a rule with title and body templates.
func templated(t *testing.T) *notify.Notification {
	t.Helper()
	e := rulestest.Compile(t, `rules:
  - name: templated
    receivers: [console]
    throttle: 0s
    threshold: {count: 1, within: 1m}
    title: "<!here> {{.ErrorCode}} from {{.From}}"
    body: |
      *Sender* {{.From}} in {{.GroupID}}
      > {{.Text}}
      custom: {{.CloudCustomData}}
`, "console")
	ev := testutil.SampleEvent(t, "send-msg-exception.hostile-text.json")
	p := alert.NewPipeline(alert.PipelineOptions{Rules: e})
	outs, _ := p.Evaluate(ev, nil)
	if len(outs) != 1 || len(outs[0].Notifications) != 1 || outs[0].RenderErr != nil {
		t.Fatalf("outcomes %+v", outs)
	}
	return outs[0].Notifications[0]
}

func TestBuildTemplated(t *testing.T) {
	p := page.Build(templated(t))
	if p.Preview != "<!here> 10023 from <!channel>" {
		t.Errorf("preview = %q", p.Preview)
	}
	if p.Subject != "[imalert][warning] <!here> 10023 from <!channel>" {
		t.Errorf("subject = %q", p.Subject)
	}
	if !strings.Contains(p.CustomBody.Slack, "*Sender* &lt;!channel&gt; in @TGS#2J4SZEAEL\n> &lt;!here&gt; urgent &lt;http://evil.example|click to verify&gt; &amp; &lt;@U0123&gt;") {
		t.Errorf("slack body = %q", p.CustomBody.Slack)
	}
	if strings.Contains(p.CustomBody.Text, "\r") || strings.Contains(p.CustomBody.Text, "\nSubject: injected") {
		t.Errorf("text body lets a value break lines: %q", p.CustomBody.Text)
	}
	if !strings.Contains(strings.Join(p.Footer, "\n"), "threshold reached: 1 within 1m") {
		t.Errorf("footer = %q", p.Footer)
	}
}
