package email

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/internal/yamlfile"
)

func notification(t *testing.T, sample string, suppressed int) *notify.Notification {
	t.Helper()
	ev := testutil.SampleEvent(t, sample)
	since := time.Date(2026, 11, 25, 13, 53, 0, 0, time.UTC)
	return &notify.Notification{
		ID: "a1b2c3", Receiver: "ops-mail", Rule: "group-rate-limit", RuleFile: "rules/im.yaml", RuleLine: 2,
		Severity: "warning", GroupKey: `GroupId="@TGS#2J4SZEAEL"`, Event: ev,
		CodeMeaning: callback.NewCatalogue().Meaning(ev.ErrorCode),
		Throttle:    notify.Throttled{Window: 10 * time.Minute, Suppressed: suppressed, Since: since, First: since.Add(time.Second), Last: since.Add(9 * time.Minute)},
	}
}

func receiver(s *testutil.SMTP) *config.EmailReceiver {
	return &config.EmailReceiver{
		SMTPHost: s.Host(), SMTPPort: s.Port(), TLS: config.TLSNone,
		Username: "imalert", Password: "mail-password-secret",
		From: "imalert@example.com", To: []string{"oncall@example.com", "second@example.com"},
		Timeout: yamlfile.Duration(2 * time.Second),
	}
}

func TestNotify(t *testing.T) {
	srv := testutil.NewSMTP(t)
	n := notification(t, "send-msg-exception.doc-sample.json", 143)
	if err := New(receiver(srv)).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails, want 1", len(mails))
	}
	m := mails[0]
	if m.User != "imalert" || m.From != "imalert@example.com" || strings.Join(m.To, ",") != "oncall@example.com,second@example.com" {
		t.Errorf("envelope: user %q from %q to %v", m.User, m.From, m.To)
	}
	msg := m.Decode(t)
	if want := "[imalert][warning] 10023 group-rate-limit for group @TGS#2J4SZEAEL (+143 suppressed)"; msg.Subject != want {
		t.Errorf("subject = %q, want %q", msg.Subject, want)
	}
	if got := msg.Header.Get("Message-Id"); got != "<a1b2c3@example.com>" {
		t.Errorf("Message-ID = %q", got)
	}
	ref := msg.Header.Get("References")
	if !strings.HasPrefix(ref, "<incident-") || msg.Header.Get("In-Reply-To") != ref {
		t.Errorf("References %q, In-Reply-To %q: want the same incident id", ref, msg.Header.Get("In-Reply-To"))
	}
	for part, body := range map[string]string{"text": msg.Text, "html": msg.HTML} {
		for _, want := range []string{"10023", "message sending frequency over the limit", "@TGS#2J4SZEAEL (Public)", "jared", "red packet", "143 more suppressed since 13:53:00 UTC (10m throttle)"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part lacks %q:\n%s", part, want, body)
			}
		}
	}
	if strings.Contains(msg.HTML, "<img") || strings.Contains(msg.HTML, "http") {
		t.Error("HTML part loads remote content")
	}
}

// The default mode, STARTTLS with PLAIN auth, against a relay whose
// certificate is trusted through ca_file.
func TestNotifyStartTLS(t *testing.T) {
	srv, caFile := testutil.NewSMTPStartTLS(t)
	cfg := receiver(srv)
	cfg.TLS = config.TLSStartTLS
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RootCAs = x509.NewCertPool()
	cfg.RootCAs.AppendCertsFromPEM(pem)
	if err := New(cfg).Notify(context.Background(), notification(t, "send-msg-exception.doc-sample.json", 0)); err != nil {
		t.Fatal(err)
	}
	if m := srv.Mails(); len(m) != 1 || m[0].User != "imalert" {
		t.Fatalf("mails %v", m)
	}
	// Without the CA the relay's certificate is refused, and no mail goes
	// out in clear text instead.
	cfg.RootCAs = nil
	err = New(cfg).Notify(context.Background(), notification(t, "send-msg-exception.doc-sample.json", 0))
	if err == nil || len(srv.Mails()) != 1 {
		t.Errorf("untrusted certificate: err %v, %d mails", err, len(srv.Mails()))
	}
}

// Pages about one rule and group key thread together; another key starts
// another thread.
func TestThreading(t *testing.T) {
	cfg := &config.EmailReceiver{From: "imalert@example.com", To: []string{"oncall@example.com"}}
	a := notification(t, "send-msg-exception.doc-sample.json", 0)
	b := notification(t, "send-msg-exception.doc-sample.json", 3)
	b.ID = "other"
	c := notification(t, "send-msg-exception.doc-sample.json", 0)
	c.GroupKey = `GroupId="@TGS#other"`
	ref := func(n *notify.Notification) string {
		m, err := Message(cfg, n)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(m.GetGenHeader("References"), ",")
	}
	if ref(a) != ref(b) || ref(a) == ref(c) {
		t.Errorf("references: a %s, b %s, c %s", ref(a), ref(b), ref(c))
	}
}

func TestHostileMail(t *testing.T) {
	srv := testutil.NewSMTP(t)
	if err := New(receiver(srv)).Notify(context.Background(), notification(t, "send-msg-exception.hostile-text.json", 0)); err != nil {
		t.Fatal(err)
	}
	m := srv.Mails()[0]
	msg := m.Decode(t)
	if strings.Contains(string(m.Data), "\nSubject: injected") || len(msg.Header["Subject"]) != 1 {
		t.Errorf("header injection: %q", m.Data)
	}
	for _, live := range []string{"<script>", "</script>", "<b>x</b>", "<!channel>", "<http://evil"} {
		if strings.Contains(msg.HTML, live) {
			t.Errorf("HTML part contains live markup %q", live)
		}
	}
	if !strings.Contains(msg.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("HTML part does not show the escaped script text:\n%s", msg.HTML)
	}
}

func TestClassify(t *testing.T) {
	srv := testutil.NewSMTP(t)
	tests := []struct {
		name      string
		refuse    *smtp.SMTPError
		closed    bool
		retryable bool
		reason    string
	}{
		{"4xx temporary", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}, false, true, "smtp_451"},
		{"5xx permanent", &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected"}, false, false, "smtp_554"},
		{"server down", nil, true, true, "dial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.refuse != nil {
				srv.Refuse(tt.refuse)
			}
			if tt.closed {
				srv.Close()
			}
			err := New(receiver(srv)).Notify(context.Background(), notification(t, "send-msg-exception.doc-sample.json", 0))
			var de *notify.DeliveryError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *notify.DeliveryError", err)
			}
			if de.Retryable != tt.retryable || de.Reason != tt.reason {
				t.Errorf("retryable %v reason %s, want %v %s (%v)", de.Retryable, de.Reason, tt.retryable, tt.reason, err)
			}
			if strings.Contains(err.Error(), "mail-password-secret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}
