package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

// writeHookSetup writes a config with the webhook receiver hook-storm (as
// the issue writes it, url from HOOK_URL) and one rule.
func writeHookSetup(t *testing.T, receiverExtra, rule string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := `listen: 127.0.0.1:0
apps: [{sdkappid: 1400000000}]
rule_files: [rules.yaml]
receivers:
  - name: hook-storm
    type: webhook
    url: ${HOOK_URL}
` + receiverExtra
	for name, content := range map[string]string{"imalert.yaml": cfg, "rules.yaml": rule} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "imalert.yaml")
}

const perGroupHookRule = `rules:
  - name: group-rate-limit
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: %s
    receivers: [hook-storm]
`

type stormPayload struct {
	Kind       string `json:"kind"`
	Text       string `json:"text"`
	GroupKey   string `json:"group_key"`
	Suppressed *struct {
		Count int `json:"count"`
	} `json:"suppressed"`
	Storm *struct {
		Held   int            `json:"held"`
		Sent   int            `json:"sent"`
		ByRule map[string]int `json:"by_rule"`
		ByCode map[string]int `json:"by_error_code"`
	} `json:"storm"`
}

func stormPayloads(t *testing.T, reqs []testutil.ChatBotRequest) []stormPayload {
	t.Helper()
	out := make([]stormPayload, len(reqs))
	for i, r := range reqs {
		if err := json.Unmarshal(r.Body, &out[i]); err != nil {
			t.Fatalf("payload %d: %v", i, err)
		}
	}
	return out
}

// The configuration on the real binary: 40 new groups in a few
// seconds give 5 pages, then one storm page for the other 35, even with a
// kill -9 in the middle of the budget period. The held pages are listed by
// imalert deliveries meanwhile.
func TestBudgetEndToEnd(t *testing.T) {
	t.Parallel() // waits out a 20 s budget period
	hook := testutil.NewChatBot(t, "/hook", "", `{}`)
	cfg := writeHookSetup(t, "    budget: {pages: 5, per: 20s}\n", fmt.Sprintf(perGroupHookRule, "10m"))
	env := []string{"HOOK_URL=" + hook.URL}
	d := testutil.StartDaemon(t, env, "serve", "--config", cfg)
	for i := range 40 {
		postToGroup(t, d.URL("/callback"+sampleQuery), fmt.Sprintf("@TGS#STORM%02d", i))
	}
	if got := hook.WaitRequests(5, 10*time.Second); len(got) != 5 {
		t.Fatalf("%d pages, want 5", len(got))
	}
	// Held pages are listed; wait until all 35 are.
	held := 0
	for deadline := time.Now().Add(10 * time.Second); held < 35 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, out, _ := testutil.Run(t, nil, "deliveries", "--config", cfg, "--state", "held", "--json")
		var rows []struct{ State string }
		_ = json.Unmarshal([]byte(out), &rows)
		held = len(rows)
	}
	if held != 35 {
		t.Fatalf("imalert deliveries --state held lists %d, want 35", held)
	}
	d.Kill() // in the middle of the budget period
	d = testutil.StartDaemon(t, env, "serve", "--config", cfg)
	reqs := hook.WaitRequests(6, 30*time.Second)
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 5 pages and a storm page", len(reqs))
	}
	got := stormPayloads(t, reqs)
	for i, p := range got[:5] {
		if p.Kind != "event" {
			t.Errorf("page %d is %s, want event", i, p.Kind)
		}
	}
	s := got[5]
	if s.Kind != "storm" || s.Storm == nil || s.Storm.Held != 35 || s.Storm.Sent != 5 || s.Storm.ByRule["group-rate-limit"] != 35 ||
		s.Storm.ByCode["10023"] != 35 || s.Suppressed == nil || s.Suppressed.Count != 35 {
		t.Fatalf("storm page = %+v %+v", s, s.Storm)
	}
	if !strings.Contains(s.Text, "35 pages held") {
		t.Errorf("storm text %q", s.Text)
	}
	// Nothing else went out: the next request is the page of a new group,
	// which opens the next budget period.
	postToGroup(t, d.URL("/callback"+sampleQuery), "@TGS#AFTER")
	reqs = hook.WaitRequests(7, 30*time.Second)
	if len(reqs) != 7 {
		t.Fatalf("%d requests, want the storm page followed by the new group's page", len(reqs))
	}
	if next := stormPayloads(t, reqs)[6]; next.Kind != "event" || !bytes.Contains(reqs[6].Body, []byte("@TGS#AFTER")) {
		t.Errorf("request after the storm page is %s: %s", next.Kind, reqs[6].Body)
	}
	if strings.Contains(d.Stderr(), hook.URL) {
		t.Error("the webhook URL, a secret, reached the log")
	}
}

// A throttle window that held events back and ends quietly sends one
// summary page on the real binary.
func TestQuietSummaryEndToEnd(t *testing.T) {
	t.Parallel()
	hook := testutil.NewChatBot(t, "/hook", "", `{}`)
	cfg := writeHookSetup(t, "", fmt.Sprintf(perGroupHookRule, "2s"))
	d := testutil.StartDaemon(t, []string{"HOOK_URL=" + hook.URL}, "serve", "--config", cfg)
	for range 3 {
		postToGroup(t, d.URL("/callback"+sampleQuery), "@TGS#QUIET")
	}
	reqs := hook.WaitRequests(2, 15*time.Second)
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want a page and a summary", len(reqs))
	}
	got := stormPayloads(t, reqs)
	if got[0].Kind != "event" || got[1].Kind != "summary" || got[1].Suppressed == nil || got[1].Suppressed.Count != 2 {
		t.Fatalf("payloads = %+v", got)
	}
	if !strings.Contains(got[1].Text, "2 more events, the last at ") || !strings.Contains(got[1].Text, "quiet since") {
		t.Errorf("summary text %q", got[1].Text)
	}
}
