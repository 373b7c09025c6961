package email

import (
	"context"
	"strings"
	"testing"

	"github.com/imalert/imalert/internal/testutil"
)

// The preview is the subject and plain-text part of the mail sent; a mail
// that cannot be built says why.
func TestPreviewIsWhatIsSent(t *testing.T) {
	srv := testutil.NewSMTP(t)
	cfg := receiver(srv)
	e := New(cfg)
	n := notification(t, "send-msg-exception.doc-sample.json", 143)
	if err := e.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	sent := srv.Mails()[0].Decode(t)
	got := e.Preview(n)
	if len(got) != 2 || got[0].Label != "subject" || got[1].Label != "text" {
		t.Fatalf("preview labels: %q", got)
	}
	if got[0].Value != sent.Subject {
		t.Errorf("preview subject %q, sent %q", got[0].Value, sent.Subject)
	}
	if got[1].Value != strings.TrimRight(strings.ReplaceAll(sent.Text, "\r\n", "\n"), "\n") {
		t.Errorf("preview text:\n%s\nsent:\n%s", got[1].Value, sent.Text)
	}
	if strings.Contains(got[0].Value+got[1].Value, "mail-password-secret") {
		t.Error("preview shows the password")
	}

	cfg.From = "not an address"
	if got := New(cfg).Preview(n); len(got) != 1 || !strings.HasPrefix(got[0].Value, "cannot build the mail: email: from:") {
		t.Errorf("preview of a bad sender: %q", got)
	}
}
