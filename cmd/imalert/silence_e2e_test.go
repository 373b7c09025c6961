package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

// postToGroup posts the documented sample for group, as a distinct event.
func postToGroup(t *testing.T, url, group string) {
	t.Helper()
	body, err := os.ReadFile("../../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	body = bytes.Replace(body, []byte(`@TGS#2J4SZEAEL`), []byte(group), 1)
	body = bytes.Replace(body, []byte(`"Random": 123456`), []byte(`"Random": `+strconv.FormatInt(123456+sampleSeq.Add(1), 10)), 1)
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(got), `"ActionStatus":"OK"`) {
		t.Fatalf("callback answer %d %s", resp.StatusCode, got)
	}
}

type hookPayload struct {
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	GroupKey string `json:"group_key"`
	Silence  *struct {
		ID             string   `json:"id"`
		Events         int      `json:"events"`
		Groups         int      `json:"groups"`
		Rules          []string `json:"rules"`
		Expired        bool     `json:"expired"`
		StillHappening bool     `json:"still_happening"`
	} `json:"silence"`
}

func hookPayloads(t *testing.T, reqs []testutil.ChatBotRequest) []hookPayload {
	t.Helper()
	out := make([]hookPayload, len(reqs))
	for i, r := range reqs {
		if err := json.Unmarshal(r.Body, &out[i]); err != nil {
			t.Fatalf("payload %d: %v: %s", i, err, r.Body)
		}
	}
	return out
}

// A silence made with `imalert silence add` holds the events it matches on
// the real daemon, across a kill -9 in the middle, counting each exactly
// once; `silence expire` ends it and the rule's receiver gets one
// silence_ended page with the count.
func TestSilenceEndToEnd(t *testing.T) {
	hook := testutil.NewChatBot(t, "/hook", "", `{}`)
	dir := t.TempDir()
	cfg := `listen: 127.0.0.1:0
apps: [{sdkappid: 1400000000}]
admin: {token: ${ADMIN_TOKEN}}
rule_files: [rules.yaml]
receivers:
  - name: hook
    type: webhook
    url: ` + hook.URL + `
`
	rules := `rules:
  - name: group-rate-limit
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 1h
    receivers: [hook]
`
	for name, content := range map[string]string{"imalert.yaml": cfg, "rules.yaml": rules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const token = "e2e-admin-token-value"
	env := []string{"ADMIN_TOKEN=" + token}
	path := filepath.Join(dir, "imalert.yaml")
	d := testutil.StartDaemon(t, env, "serve", "--config", path)
	cli := func(args ...string) string {
		t.Helper()
		args = append([]string{"silence", args[0], "--url", "http://" + d.Addr}, args[1:]...)
		code, out, errOut := testutil.Run(t, []string{"IMALERT_ADMIN_TOKEN=" + token}, args...)
		if code != 0 {
			t.Fatalf("imalert %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	// Without the token the API refuses, and the CLI says so.
	if code, _, errOut := testutil.Run(t, nil, "silence", "ls", "--url", "http://"+d.Addr); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("silence ls without a token: exit %d, %s", code, errOut)
	}
	// A typo gets the rule language's error.
	if code, _, errOut := testutil.Run(t, []string{"IMALERT_ADMIN_TOKEN=" + token}, "silence", "add", "--url", "http://"+d.Addr,
		"--duration", "1h", "--comment", "x", "eror_code=1"); code != 1 || !strings.Contains(errOut, `did you mean "error_code"?`) {
		t.Errorf("silence add with a typo: exit %d, %s", code, errOut)
	}
	out := cli("add", "--duration", "1h", "--author", "ana", "--comment", "known spam wave", "GroupId=~^@TGS#SPAM", "error_code=10023,80001-80004")
	fields := strings.Fields(out)
	if len(fields) < 3 || fields[0] != "silence" || fields[2] != "active" {
		t.Fatalf("silence add printed %q", out)
	}
	id := fields[1]

	cb := func() string { return d.URL("/callback" + sampleQuery) }
	for range 3 {
		postToGroup(t, cb(), "@TGS#SPAM1")
	}
	postToGroup(t, cb(), "@TGS#OTHER1") // pages: processed after the three
	if got := hookPayloads(t, hook.WaitRequests(1, 10*time.Second)); len(got) != 1 || got[0].GroupKey != `GroupId="@TGS#OTHER1"` {
		t.Fatalf("pages after 3 silenced events and another group: %+v", got)
	}
	if ls := cli("ls"); !strings.Contains(ls, id+"  active  3 ") || !strings.Contains(ls, "  api  ") {
		t.Errorf("silence ls after 3 held events:\n%s", ls)
	}

	// kill -9 in the middle of the silence; the restarted daemon counts on.
	d.Kill()
	d = testutil.StartDaemon(t, env, "serve", "--config", path)
	postToGroup(t, cb(), "@TGS#SPAM2")
	postToGroup(t, cb(), "@TGS#OTHER2")
	if got := hookPayloads(t, hook.WaitRequests(2, 10*time.Second)); len(got) != 2 || got[1].GroupKey != `GroupId="@TGS#OTHER2"` {
		t.Fatalf("pages after the restart: %+v", got)
	}
	var listed []struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Silenced int    `json:"silenced"`
		Groups   int    `json:"groups"`
	}
	if err := json.Unmarshal([]byte(cli("ls", "--json")), &listed); err != nil || len(listed) != 1 || listed[0].Silenced != 4 || listed[0].Groups != 2 {
		t.Fatalf("silence ls --json after the restart = %+v (%v), want 4 held in 2 groups", listed, err)
	}

	if out := cli("expire", id); !strings.Contains(out, "expired; it held 4 events") {
		t.Errorf("silence expire printed %q", out)
	}
	got := hookPayloads(t, hook.WaitRequests(3, 10*time.Second))
	if len(got) != 3 || got[2].Kind != "silence_ended" || got[2].Silence == nil {
		t.Fatalf("after expire: %+v, want a silence_ended page", got)
	}
	s := got[2].Silence
	if s.ID != id || s.Events != 4 || s.Groups != 2 || !s.Expired || !s.StillHappening || strings.Join(s.Rules, ",") != "group-rate-limit" {
		t.Errorf("silence_ended = %+v", s)
	}
	if want := "silence by ana ('known spam wave') held 4 events in 2 groups; still happening: yes"; !strings.Contains(got[2].Text, want) {
		t.Errorf("silence_ended text %q lacks %q", got[2].Text, want)
	}
	if strings.Contains(d.Stderr(), token) {
		t.Error("the admin token reached the log")
	}
}
