package email

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/internal/yamlfile"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// hostile is the page for the hostile sample (see alert/slack's test). With
// more, the group id, which reaches the subject, attempts header injection.
func hostile(t *testing.T, more bool) *notify.Notification {
	t.Helper()
	ev := testutil.SampleEvent(t, "send-msg-exception.hostile-text.json")
	at := ev.ReceivedAt
	if more {
		ev.GroupID = "@TGS#2J4SZEAEL\r\nBcc: victim@example.com\r\n\r\n<a href=\"http://evil.example\">x</a>"
	}
	return &notify.Notification{
		ID: "0123456789abcdef", Receiver: "ops-mail", Rule: "group-rate-limit", RuleFile: "rules/im.yaml", RuleLine: 2,
		Severity: callback.SeverityWarning, GroupKey: `GroupId="@TGS#2J4SZEAEL"`, Event: ev,
		CodeMeaning: "message sending frequency over the limit", CreatedAt: at,
	}
}

// The hostile sample by mail: a single Subject line, no injected header or
// recipient, every HTML-significant character escaped in the HTML part.
// The text and HTML renderings are checked in as golden files.
func TestHostileGolden(t *testing.T) {
	srv := testutil.NewSMTP(t)
	cfg := &config.EmailReceiver{
		SMTPHost: srv.Host(), SMTPPort: srv.Port(), TLS: config.TLSNone,
		From: "imalert@example.com", To: []string{"oncall@example.com"}, Timeout: yamlfile.Duration(5 * time.Second),
	}
	for _, more := range []bool{false, true} {
		if err := New(cfg).Notify(context.Background(), hostile(t, more)); err != nil {
			t.Fatal(err)
		}
	}
	mails := srv.WaitMails(2, 5*time.Second)
	if len(mails) != 2 {
		t.Fatalf("%d mails", len(mails))
	}
	for i, m := range mails {
		checkInert(t, m, i == 1)
	}
	msg := mails[0].Decode(t) // the golden files hold the sample as it is
	for name, got := range map[string]string{
		"hostile-text.email.txt":  "Subject: " + msg.Subject + "\n\n" + strings.ReplaceAll(msg.Text, "\r\n", "\n"),
		"hostile-text.email.html": strings.ReplaceAll(msg.HTML, "\r\n", "\n"),
	} {
		golden := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("%s differs (-want +got; -update rewrites):\n%s", name, diff)
		}
	}
}

// Addresses come from config only, and config refuses any with CR or LF;
// go-mail refuses them too, should one get through.
func TestAddressesRefuseLineBreaks(t *testing.T) {
	n := hostile(t, false)
	for _, cfg := range []*config.EmailReceiver{
		{From: "a@example.com\r\nBcc: x@example.com", To: []string{"b@example.com"}},
		{From: "a@example.com", To: []string{"b@example.com\nBcc: x@example.com"}},
	} {
		if _, err := Message(cfg, n); err == nil {
			t.Errorf("message built with addresses %q %q", cfg.From, cfg.To)
		}
	}
}

// checkInert checks one received hostile mail; more is the variant with
// the injection attempts in the group id.
func checkInert(t *testing.T, m testutil.Mail, more bool) {
	t.Helper()
	if len(m.To) != 1 || m.To[0] != "oncall@example.com" {
		t.Errorf("recipients %v", m.To)
	}
	head, _, _ := bytes.Cut(m.Data, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(head), "\r\n") {
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(name) {
		case "bcc", "cc", "injected":
			t.Errorf("injected header %q", line)
		}
	}
	if n := strings.Count(strings.ToLower(string(head)), "\r\nsubject:"); n != 1 {
		t.Errorf("%d Subject headers", n)
	}
	msg := m.Decode(t)
	if strings.ContainsAny(msg.Subject, "\r\n") {
		t.Errorf("subject spans lines: %q", msg.Subject)
	}
	for _, raw := range []string{"<script>", "</script>", "<b>x</b>", "<a href", "<!here>"} {
		if strings.Contains(msg.HTML, raw) {
			t.Errorf("HTML part contains %q", raw)
		}
	}
	for _, esc := range []string{"&lt;!here&gt; urgent", "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;!channel&gt;"} {
		if !strings.Contains(msg.HTML, esc) {
			t.Errorf("HTML part lacks the escaped %q", esc)
		}
	}
	// The text part is for terminals: each value on its own line, none
	// able to forge a line.
	for _, line := range strings.Split(msg.Text, "\n") {
		if strings.HasPrefix(line, "Subject:") || strings.HasPrefix(line, "Bcc:") {
			t.Errorf("text part line forged: %q", line)
		}
	}
	if more && !strings.Contains(msg.HTML, "&lt;a href=&#34;http://evil.example&#34;&gt;") {
		t.Error("HTML part lacks the escaped link of the group id")
	}
}
