package email

import (
	"bytes"
	"strings"
	"testing"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/rules/rulestest"
)

// With external_url, the HTML part links to the event and to its mute
// link; the text part shows both in its footer; without, neither.
func TestLinks(t *testing.T) {
	e := rulestest.Compile(t, "rules:\n  - name: r\n    match: {error_code: 10023}\n    receivers: [ops-mail]\n", "ops-mail")
	outs, _ := alert.NewPipeline(alert.PipelineOptions{Rules: e}).Evaluate(testutil.SampleEvent(t, "send-msg-exception.doc-sample.json"), nil)
	for _, linked := range []bool{true, false} {
		n := outs[0].Notifications[0]
		n.Link, n.MuteLink = "", ""
		if linked {
			n.Link, n.MuteLink = "https://imalert.example.com/ui/events/7", "https://imalert.example.com/ui/mute/abc.def"
		}
		m, err := Message(&config.EmailReceiver{From: "imalert@example.com", To: []string{"oncall@example.com"}}, n)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		got := testutil.Mail{Data: buf.Bytes()}.Decode(t)
		html := `<a href="https://imalert.example.com/ui/events/7">Open in imalert</a> · <a href="https://imalert.example.com/ui/mute/abc.def">Mute 1 h</a>`
		text := "mute 1 h https://imalert.example.com/ui/mute/abc.def"
		if strings.Contains(got.HTML, html) != linked || strings.Contains(got.Text, text) != linked || strings.Contains(got.HTML, "/ui/") != linked {
			t.Errorf("links %v: HTML part\n%s\ntext part\n%s", linked, got.HTML, got.Text)
		}
	}
}
