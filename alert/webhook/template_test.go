package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
)

func readTemplate(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	// As the config's ${VAR} expansion would.
	return strings.ReplaceAll(string(b), "${PAGERDUTY_ROUTING_KEY}", "R0UT1NGKEY0123456789012345678901")
}

// hostileNotification is the hostile sample with chat-platform attacks.
func hostileNotification(t *testing.T) *notify.Notification {
	n := notification(t)
	n.Event = testutil.ChatHostileEvent(t)
	return n
}

// The documented examples: each renders, for a hostile event and for a
// digest, to the JSON its service takes; the README carries them as tested.
func TestExampleTemplates(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pagerduty.tmpl", "teams.tmpl"} {
		raw, _ := os.ReadFile(filepath.Join("testdata", name))
		for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			if !strings.Contains(string(readme), "      "+l+"\n") {
				t.Errorf("alert/README.md lacks the line of %s %q (indented 6)", name, l)
			}
		}
		if err := CheckTemplate(readTemplate(t, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	pd, err := parseTemplate(readTemplate(t, "pagerduty.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	long := hostileNotification(t)
	long.GroupKey = strings.Repeat("GroupId=\"日本語\" ", 40)
	long.Title = notify.Rendered{Text: strings.Repeat("summary ", 200)}
	for _, n := range append(samples(), hostileNotification(t), long) {
		body, err := render(pd, Build(n))
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			RoutingKey  string `json:"routing_key"`
			EventAction string `json:"event_action"`
			DedupKey    string `json:"dedup_key"`
			Payload     struct {
				Summary, Source, Severity, Timestamp string
				CustomDetails                        map[string]any `json:"custom_details"`
			}
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatalf("pagerduty: %v\n%s", err, body)
		}
		p := ev.Payload
		// PagerDuty Events v2: routing key of 32 characters, summary of at
		// most 1024, severity one of critical, error, warning, info.
		if len(ev.RoutingKey) != 32 || ev.EventAction != "trigger" || p.Summary == "" || utf8.RuneCountInString(p.Summary) > 1024 ||
			!regexp.MustCompile(`^(critical|error|warning|info)$`).MatchString(p.Severity) || p.Source == "" || utf8.RuneCountInString(ev.DedupKey) > 255 {
			t.Errorf("pagerduty event: %+v", ev)
		}
		if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil || p.CustomDetails["rule"] != n.Rule {
			t.Errorf("timestamp %q, custom_details %v", p.Timestamp, p.CustomDetails)
		}
	}

	teams, err := parseTemplate(readTemplate(t, "teams.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := render(teams, Build(hostileNotification(t)))
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type        string
		Attachments []struct {
			ContentType string
			Content     struct {
				Type string
				Body []map[string]any
			}
		}
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		t.Fatalf("teams: %v\n%s", err, body)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 || msg.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" ||
		msg.Attachments[0].Content.Type != "AdaptiveCard" || len(msg.Attachments[0].Content.Body) != 3 {
		t.Fatalf("teams message: %s", body)
	}
	var v any
	_ = json.Unmarshal(body, &v)
	for _, s := range testutil.JSONStrings(v) {
		if strings.Contains(s, "adaptivecards.io") {
			continue // the card's $schema
		}
		if loc := regexp.MustCompile(`<[^<>]*>|\]\(|://|\*\*`).FindString(s); loc != "" {
			t.Errorf("teams: live markdown %q in %q", loc, s)
		}
	}
}

// A templated webhook posts the template's JSON with the configured
// headers; payload strings are quoted by json, so quotes and line breaks in
// them cannot break the JSON.
func TestTemplatedNotify(t *testing.T) {
	h := &hook{}
	srv := newServer(t, h)
	n := New(&config.WebhookReceiver{
		URL:          config.Secret(srv + "/hook"),
		BodyTemplate: `{"text": {{json .Event.Excerpt}}, "info": {{json .Event.ErrorInfo}}, "code": {{json .Event.ErrorCode}}}`,
		Headers:      map[string]config.Secret{"Authorization": "GenieKey 0123-secret", "X-Custom": "a"},
	}, newClient())
	nf := hostileNotification(t)
	if err := n.Notify(context.Background(), nf); err != nil {
		t.Fatal(err)
	}
	got := h.hits[0]
	if got.header.Get("Authorization") != "GenieKey 0123-secret" || got.header.Get("X-Custom") != "a" || got.header.Get(HeaderID) == "" {
		t.Errorf("headers %v", got.header)
	}
	var body struct {
		Text, Info string
		Code       int
	}
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatalf("%v: %s", err, got.body)
	}
	if !strings.Contains(body.Text, `<http://evil.example|click to verify>`) || body.Code != 10023 {
		t.Errorf("body %+v", body)
	}
}

// Template problems are caught by CheckTemplate with the template's line,
// and at delivery are final.
func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"syntax", "{\n  \"a\": {{json .Title}\n}", 2, "bad character"},
		{"unknown field", "{\n\n  \"a\": {{json .Sender}}\n}", 3, "can't evaluate field Sender"},
		{"unknown function", `{"a": {{quote .Title}}}`, 1, `function "quote" not defined`},
		{"not JSON", "{\"a\": {{.Title}}}", 0, "output is not JSON"},
		{"digest only", `{"total": {{json .Digest.Total}}}`, 1, "with a sample event"},
		{"unquoted text", "{\"a\": \"{{.Event.Excerpt}}\"}", 0, "output is not JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTemplate(tt.src)
			var te *TemplateError
			if !errors.As(err, &te) || te.Line != tt.line || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %v (line %d), want line %d and %q", err, lineOf(te), tt.line, tt.msg)
			}
		})
	}
	h := &hook{}
	n := New(&config.WebhookReceiver{URL: config.Secret(newServer(t, h)), BodyTemplate: `{"a": {{.Title}}}`}, newClient())
	var de *notify.DeliveryError
	if err := n.Notify(context.Background(), notification(t)); !errors.As(err, &de) || de.Retryable || de.Reason != "template" || len(h.hits) != 0 {
		t.Errorf("bad template at delivery: %v, %d requests", err, len(h.hits))
	}
}

func lineOf(te *TemplateError) int {
	if te == nil {
		return -1
	}
	return te.Line
}
