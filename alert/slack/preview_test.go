package slack

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
)

// The preview's text is the text posted, the receiver's configured
// mentions leading it; the blocks follow in order, a field's label and
// value on one line.
func TestPreviewIsWhatIsPosted(t *testing.T) {
	srv := testutil.NewSlack(t)
	s := New(&config.SlackReceiver{WebhookURL: config.Secret(srv.WebhookURL()), Mention: []string{"<!subteam^S0123ABC>", "<@U0123ABCD>"}},
		&http.Client{Timeout: 5 * time.Second})
	n := notification(t, "send-msg-exception.doc-sample.json")
	if err := s.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	posted := srv.Messages()[0]
	got := s.Preview(n)
	if got[0].Label != "text" || got[0].Value != posted.Text {
		t.Errorf("preview text %q, posted %q", got[0].Value, posted.Text)
	}
	if want := "<!subteam^S0123ABC> <@U0123ABCD> [warning] 10023 group-rate-limit in @TGS#2J4SZEAEL (Public) from jared"; posted.Text != want {
		t.Errorf("posted text %q, want %q", posted.Text, want)
	}
	var labels []string
	for _, f := range got {
		labels = append(labels, f.Label)
	}
	want := []string{"text", "header", "section"}
	for len(want) < len(got)-2 {
		want = append(want, "field")
	}
	want = append(want, "section", "context")
	if d := cmp.Diff(want, labels); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	att := posted.Payload["attachments"].([]any)[0].(map[string]any)
	header := att["blocks"].([]any)[0].(map[string]any)["text"].(map[string]any)["text"]
	if got[1].Value != header {
		t.Errorf("preview header %q, posted %q", got[1].Value, header)
	}
}
