// Package testutil holds test servers that behave like imalert's real
// peers: a Slack-like HTTP server and an SMTP server, both on loopback.
package testutil

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// SlackMessage is one message the fake Slack accepted.
type SlackMessage struct {
	Via     string // "webhook" or "api"
	Path    string
	Channel string
	Token   string
	Text    string
	// Payload is the whole message as JSON: the webhook body, or for the
	// Web API the form fields with blocks and attachments decoded.
	Payload map[string]any
	At      time.Time
}

// SlackFault is one scripted failure answer.
type SlackFault struct {
	Status     int           // HTTP status; 200 with APIError for an ok:false answer
	RetryAfter string        // Retry-After header value, if any
	APIError   string        // Web API error code for ok:false
	Delay      time.Duration // wait before answering (a hanging Slack)
}

// Slack is an httptest server that behaves like Slack's incoming webhooks
// (any path under /webhook/) and Web API (under /api/, with chat.postMessage
// and chat.update). Faults are served in order before normal answers.
type Slack struct {
	*httptest.Server

	mu       sync.Mutex
	faults   []SlackFault
	msgs     []SlackMessage
	attempts []time.Time
	ts       int
	notify   chan struct{}
}

// NewSlack starts a fake Slack; it is closed when the test ends.
func NewSlack(t testing.TB) *Slack {
	t.Helper()
	s := &Slack{notify: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// WebhookURL returns a webhook URL on the fake server.
func (s *Slack) WebhookURL() string { return s.URL + "/webhook/T000/B000/XXXXXXXX" }

// APIURL returns the Web API base URL (ending in /) of the fake server.
func (s *Slack) APIURL() string { return s.URL + "/api/" }

// Fail queues faults to answer the next requests with.
func (s *Slack) Fail(faults ...SlackFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// Messages returns the messages accepted so far.
func (s *Slack) Messages() []SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SlackMessage(nil), s.msgs...)
}

// Attempts returns the arrival times of every request, faults included.
func (s *Slack) Attempts() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.attempts...)
}

// WaitMessages waits until at least n messages arrived or timeout passed,
// and returns the messages.
func (s *Slack) WaitMessages(n int, timeout time.Duration) []SlackMessage {
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		if len(msgs) >= n || time.Now().After(deadline) {
			return msgs
		}
		select {
		case <-s.notify:
		case <-time.After(time.Until(deadline)):
		}
	}
}

func (s *Slack) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.attempts = append(s.attempts, time.Now())
	var fault *SlackFault
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		fault = &f
	}
	s.mu.Unlock()
	webhook := strings.HasPrefix(r.URL.Path, "/webhook/")
	if fault != nil {
		if fault.Delay > 0 {
			select {
			case <-time.After(fault.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		switch {
		case fault.APIError != "":
			writeJSON(w, map[string]any{"ok": false, "error": fault.APIError})
			return
		case fault.Status != 0 && fault.Status != http.StatusOK:
			w.WriteHeader(fault.Status)
			if webhook {
				_, _ = io.WriteString(w, "error")
			}
			return
		}
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	msg := SlackMessage{Path: r.URL.Path, At: time.Now(), Payload: map[string]any{}}
	switch {
	case webhook:
		msg.Via = "webhook"
		if err := json.Unmarshal(body, &msg.Payload); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "invalid_payload")
			return
		}
		msg.Text, _ = msg.Payload["text"].(string)
	case r.URL.Path == "/api/chat.postMessage" || r.URL.Path == "/api/chat.update":
		msg.Via = "api"
		form, err := url.ParseQuery(string(body))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for k := range form {
			v := form.Get(k)
			var decoded any
			if (k == "blocks" || k == "attachments") && json.Unmarshal([]byte(v), &decoded) == nil {
				msg.Payload[k] = decoded
			} else {
				msg.Payload[k] = v
			}
		}
		msg.Token = form.Get("token")
		if msg.Token == "" {
			msg.Token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		msg.Channel = form.Get("channel")
		msg.Text = form.Get("text")
		if msg.Token == "" {
			writeJSON(w, map[string]any{"ok": false, "error": "not_authed"})
			return
		}
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	s.mu.Lock()
	s.ts++
	ts := strconv.FormatInt(time.Now().Unix(), 10) + "." + strconv.Itoa(100000+s.ts)
	s.msgs = append(s.msgs, msg)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	if webhook {
		_, _ = io.WriteString(w, "ok")
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": msg.Channel, "ts": ts})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
