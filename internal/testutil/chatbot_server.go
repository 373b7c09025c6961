package testutil

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// ChatBotRequest is one request a ChatBot received.
type ChatBotRequest struct {
	Query  url.Values
	Header http.Header
	Body   []byte
}

// ChatBot plays a chat platform's robot webhook on loopback: it records
// every request and answers each with the next scripted answer, then with
// Default.
type ChatBot struct {
	URL string // the webhook URL, with Path and Query as configured

	mu       sync.Mutex
	reqs     []ChatBotRequest
	answers  []string
	fallback string
	// Check, when set, answers a request itself: a non-empty result is
	// sent instead of the next scripted answer (a signature check).
	check func(ChatBotRequest) string
}

// NewChatBot starts a robot answering success (okAnswer) by default, at
// path?query on a loopback server closed when t ends.
func NewChatBot(t testing.TB, path, query, okAnswer string) *ChatBot {
	t.Helper()
	b := &ChatBot{fallback: okAnswer}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	b.URL = srv.URL + path
	if query != "" {
		b.URL += "?" + query
	}
	return b
}

// Script queues answers for the next requests.
func (b *ChatBot) Script(answers ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.answers = append(b.answers, answers...)
}

// Check sets a function that may answer a request before the script.
func (b *ChatBot) Check(f func(ChatBotRequest) string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.check = f
}

// Requests returns what the robot received so far.
func (b *ChatBot) Requests() []ChatBotRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]ChatBotRequest(nil), b.reqs...)
}

func (b *ChatBot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	req := ChatBotRequest{Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	b.mu.Lock()
	b.reqs = append(b.reqs, req)
	answer := b.fallback
	if len(b.answers) > 0 {
		answer, b.answers = b.answers[0], b.answers[1:]
	}
	check := b.check
	b.mu.Unlock()
	if check != nil {
		if a := check(req); a != "" {
			answer = a
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, answer)
}

// WaitRequests waits until the robot has received n requests or timeout
// passes, and returns what it received.
func (b *ChatBot) WaitRequests(n int, timeout time.Duration) []ChatBotRequest {
	deadline := time.Now().Add(timeout)
	for {
		reqs := b.Requests()
		if len(reqs) >= n || time.Now().After(deadline) {
			return reqs
		}
		time.Sleep(20 * time.Millisecond)
	}
}
