package testutil

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one message the SMTP server accepted.
type Mail struct {
	From string
	To   []string
	Data []byte // the message as received, headers and body
	User string // AUTH PLAIN identity, if any
}

// SMTP is an in-process SMTP server on loopback built on go-smtp. It accepts
// AUTH PLAIN without TLS and can be told to refuse messages.
type SMTP struct {
	Addr string

	srv *smtp.Server
	ln  net.Listener
	tls *tls.Config // nil: no STARTTLS

	mu     sync.Mutex
	mails  []Mail
	refuse []*smtp.SMTPError
	notify chan struct{}
}

// NewSMTP starts an SMTP server without TLS; it is closed when the test
// ends.
func NewSMTP(t testing.TB) *SMTP { return newSMTP(t, nil) }

// NewSMTPStartTLS starts an SMTP server that offers STARTTLS with a
// self-signed certificate for 127.0.0.1, and returns the path of that
// certificate in PEM, for the client to trust.
func NewSMTPStartTLS(t testing.TB) (*SMTP, string) {
	t.Helper()
	cert, pemPath := selfSigned(t)
	return newSMTP(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), pemPath
}

func newSMTP(t testing.TB, tlsConfig *tls.Config) *SMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtp: listen: %v", err)
	}
	s := &SMTP{Addr: ln.Addr().String(), notify: make(chan struct{}, 1), tls: tlsConfig}
	s.serve(ln)
	t.Cleanup(func() { s.Close() })
	return s
}

func (s *SMTP) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{srv: s}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = s.tls == nil
	srv.TLSConfig = s.tls
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Restart brings a closed server back on the same address, as a relay
// coming back after an outage.
func (s *SMTP) Restart(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		t.Fatalf("smtp: listen again: %v", err)
	}
	s.serve(ln)
}

// Host and Port split Addr.
func (s *SMTP) Host() string { h, _, _ := net.SplitHostPort(s.Addr); return h }

// Port returns the listening port.
func (s *SMTP) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Refuse makes the next messages fail at DATA with these errors, in order.
func (s *SMTP) Refuse(errs ...*smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = append(s.refuse, errs...)
}

// Close stops the server: later connections are refused.
func (s *SMTP) Close() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	_ = srv.Close()
}

// Mails returns the messages accepted so far.
func (s *SMTP) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// WaitMails waits until at least n messages arrived or timeout passed.
func (s *SMTP) WaitMails(n int, timeout time.Duration) []Mail {
	deadline := time.Now().Add(timeout)
	for {
		m := s.Mails()
		if len(m) >= n || time.Now().After(deadline) {
			return m
		}
		select {
		case <-s.notify:
		case <-time.After(time.Until(deadline)):
		}
	}
}

type session struct {
	srv  *SMTP
	from string
	to   []string
	user string
}

func (s *session) AuthMechanisms() []string { return []string{"PLAIN"} }

func (s *session) Auth(mech string) (saslServer, error) {
	return newPlainServer(func(identity, username, password string) error {
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *session) Reset()                                      { s.from, s.to = "", nil }
func (s *session) Logout() error                               { return nil }

func (s *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return err
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if len(s.srv.refuse) > 0 {
		e := s.srv.refuse[0]
		s.srv.refuse = s.srv.refuse[1:]
		return e
	}
	s.srv.mails = append(s.srv.mails, Mail{From: s.from, To: s.to, Data: buf.Bytes(), User: s.user})
	select {
	case s.srv.notify <- struct{}{}:
	default:
	}
	return nil
}

// Message is a received mail decoded: headers unfolded and MIME-decoded,
// the text and HTML parts of a multipart/alternative body decoded.
type Message struct {
	Header mail.Header
	// Subject is the decoded Subject header.
	Subject string
	Text    string
	HTML    string
}

// Decode parses m.Data.
func (m Mail) Decode(t testing.TB) Message {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatalf("mail: %v", err)
	}
	out := Message{Header: msg.Header}
	dec := new(mime.WordDecoder)
	out.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("mail: subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("mail: content type: %v", err)
	}
	readPart := func(h textproto.MIMEHeader, r io.Reader) string {
		if strings.EqualFold(h.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(r)
		} else if strings.EqualFold(h.Get("Content-Transfer-Encoding"), "base64") {
			r = base64.NewDecoder(base64.StdEncoding, r)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("mail: part: %v", err)
		}
		return string(b)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		out.Text = readPart(textproto.MIMEHeader(msg.Header), msg.Body)
		return out
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("mail: multipart: %v", err)
		}
		body := readPart(p.Header, p)
		switch ct := p.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/plain"):
			out.Text = body
		case strings.HasPrefix(ct, "text/html"):
			out.HTML = body
		}
	}
	return out
}

// selfSigned makes a certificate for 127.0.0.1 and localhost and writes it,
// PEM-encoded, into the test's temporary directory.
func selfSigned(t testing.TB) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "imalert test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	path := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}
