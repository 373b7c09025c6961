package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/imalert/imalert/config"
)

// The preview is the body the receiving end gets, indented: the payload or
// body_template's output. Headers, which may carry secrets, are not shown;
// a template that fails says why.
func TestPreviewIsWhatIsPosted(t *testing.T) {
	tests := []struct {
		name, template string
		want           string // in the preview
	}{
		{"payload", "", `"version": 1`},
		{"body_template", `{"text": {{json .Event.Excerpt}}, "code": {{json .Event.ErrorCode}}}`, `"code": 10023`},
		{"broken body_template", `{"a": {{.Title}}}`, "cannot build the body: webhook: body_template: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &hook{}
			w := New(&config.WebhookReceiver{URL: config.Secret(newServer(t, h) + "/hook"), BodyTemplate: tt.template,
				Headers: map[string]config.Secret{"Authorization": "Bearer preview-secret"}}, newClient())
			n := notification(t)
			err := w.Notify(context.Background(), n)
			got := w.Preview(n)
			if len(got) != 1 || !strings.Contains(got[0].Value, tt.want) || strings.Contains(got[0].Value, "preview-secret") {
				t.Fatalf("preview %q, want one field with %q and no secret", got, tt.want)
			}
			if err != nil {
				return // nothing posted to compare with
			}
			var shown, posted bytes.Buffer
			if err := json.Compact(&shown, []byte(got[0].Value)); err != nil {
				t.Fatal(err)
			}
			_ = json.Compact(&posted, h.hits[0].body)
			if got[0].Label != "body" || shown.String() != posted.String() {
				t.Errorf("preview %s:\n%s\nposted:\n%s", got[0].Label, got[0].Value, h.hits[0].body)
			}
		})
	}
}
