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

// A rule's templates reach mail escaped for each part: no markup from the
// event in the HTML part, no extra header from a value in the subject.
func TestMessageTemplatedHostile(t *testing.T) {
	e := rulestest.Compile(t, `rules:
  - name: templated
    receivers: [ops-mail]
    title: "{{.ErrorCode}} from {{.From}}: {{.Text}}"
    body: |
      Sender <{{.From}}> & friends
      {{.Text}}
      {{.CloudCustomData}}
`, "ops-mail")
	ev := testutil.SampleEvent(t, "send-msg-exception.hostile-text.json")
	outs, _ := alert.NewPipeline(alert.PipelineOptions{Rules: e}).Evaluate(ev, nil)
	m, err := Message(&config.EmailReceiver{From: "imalert@example.com", To: []string{"oncall@example.com"}}, outs[0].Notifications[0])
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	got := testutil.Mail{Data: buf.Bytes()}.Decode(t)
	if len(got.Header["Subject"]) != 1 || got.Header.Get("Injected") != "" || strings.ContainsAny(got.Subject, "\r\n") {
		t.Errorf("subject header = %q", got.Header["Subject"])
	}
	if !strings.HasPrefix(got.Subject, "[imalert][warning] 10023 from <!channel>: <!here> urgent") {
		t.Errorf("subject = %q", got.Subject)
	}
	for _, bad := range []string{"<script>", "<b>x</b>", "<!channel>", "<http://evil"} {
		if strings.Contains(got.HTML, bad) {
			t.Errorf("HTML part contains %q", bad)
		}
	}
	for _, want := range []string{"Sender &lt;&lt;!channel&gt;&gt; &amp; friends", "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;x&lt;/b&gt;"} {
		if !strings.Contains(got.HTML, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, got.HTML)
		}
	}
	if !strings.Contains(got.Text, "  Sender <<!channel>> & friends") || strings.Contains(got.Text, "\nSubject: injected") {
		t.Errorf("text part:\n%s", got.Text)
	}
}
