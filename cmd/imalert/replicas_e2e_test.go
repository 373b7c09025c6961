package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

// writeReplicaSetup writes a config for replicas sharing the Redis at
// addr: one webhook receiver, one rule throttling per group.
func writeReplicaSetup(t *testing.T, addr, policy, throttle string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := `listen: 127.0.0.1:0
apps:
  - sdkappid: 1400000000
rule_files: [rules.yaml]
receivers:
  - name: hook
    type: webhook
    url: ${HOOK_URL}
    retry: {initial: 100ms, max: 1s}
state:
  backend: redis
  on_redis_error: ` + policy + `
  redis:
    addr: ` + addr + `
    timeout: 2s
`
	rules := `rules:
  - name: group-rate-limit
    match: {error_code: [10023]}
    group_by: [GroupId]
    throttle: ` + throttle + `
    receivers: [hook]
`
	for name, content := range map[string]string{"imalert.yaml": cfg, "rules.yaml": rules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "imalert.yaml")
}

// startReplicas runs n imalert processes on one config, each with its own
// data directory.
func startReplicas(t *testing.T, n int, cfg, hookURL string) []*testutil.Daemon {
	t.Helper()
	var ds []*testutil.Daemon
	for range n {
		ds = append(ds, testutil.StartDaemon(t, []string{"HOOK_URL=" + hookURL},
			"serve", "--config", cfg, "--data-dir", t.TempDir()))
	}
	return ds
}

var groupSeq int

// postToReplica posts one distinct rate-limit callback of group to d and
// checks that it is acknowledged.
func postToReplica(t *testing.T, d *testutil.Daemon, group string) {
	t.Helper()
	groupSeq++
	body := fmt.Sprintf(`{"CallbackCommand":"Group.CallbackSendMsgException","GroupId":%q,"Type":"Public",`+
		`"From_Account":"jared","Random":%d,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}],"ErrorCode":10023}`,
		group, 500000+groupSeq)
	resp, err := http.Post(d.URL("/callback"+sampleQuery), "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}` {
		t.Fatalf("callback answer %d %s", resp.StatusCode, got)
	}
}

// hookPage is what a test reads of a webhook page.
type hookPage struct {
	Kind       string    `json:"kind"` // event, or summary (a window that ended quietly)
	GroupKey   string    `json:"group_key"`
	CreatedAt  time.Time `json:"created_at"`
	Suppressed struct {
		Count int `json:"count"`
	} `json:"suppressed"`
}

func hookPages(t *testing.T, hook *testutil.ChatBot) map[string][]hookPage {
	t.Helper()
	out := map[string][]hookPage{}
	for _, r := range hook.Requests() {
		var p hookPage
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("webhook body: %v", err)
		}
		out[p.GroupKey] = append(out[p.GroupKey], p)
	}
	return out
}

// waitProcessed waits until the replicas together have run total
// callbacks through the rules: positive evidence that each was decided.
func waitProcessed(t *testing.T, ds []*testutil.Daemon, total int) {
	t.Helper()
	const name = `imalert_events_processed_total{command="Group.CallbackSendMsgException"}`
	deadline := time.Now().Add(30 * time.Second)
	for {
		sum := 0.0
		for _, d := range ds {
			sum += max(metric(t, d, name), 0)
		}
		if int(sum) == total {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas processed %v callbacks, want %d", sum, total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	groupA = `GroupId="@TGS#A"`
	groupB = `GroupId="@TGS#B"`
)

// Three replicas behind a round-robin balancer share their decisions in
// Redis: one group's storm pages once per window, and the page after the
// window counts every callback held back on all three; a second group
// gets its own page.
func TestReplicasShareWindows(t *testing.T) {
	redis := testutil.StartRedis(t)
	hook := testutil.NewChatBot(t, "/hook", "", `{}`)
	const window = 2 * time.Second
	ds := startReplicas(t, 3, writeReplicaSetup(t, redis.Addr, "fail_open", window.String()), hook.URL)

	const storm = 30
	for i := range storm {
		postToReplica(t, ds[i%3], "@TGS#A")
	}
	postToReplica(t, ds[1], "@TGS#B")
	waitProcessed(t, ds, storm+1)
	// The window the storm's last page opened ends; the next callback,
	// on another replica, pages with the count of everything held back.
	pages := hookPages(t, hook)
	if len(pages[groupA]) == 0 || len(pages[groupB]) != 1 {
		t.Fatalf("after the storm: %d pages for A, %d for B; want at least 1 and 1", len(pages[groupA]), len(pages[groupB]))
	}
	last := pages[groupA][len(pages[groupA])-1].CreatedAt
	time.Sleep(time.Until(last.Add(window + 100*time.Millisecond)))
	postToReplica(t, ds[2], "@TGS#A")
	reqs := hook.WaitRequests(len(pages[groupA])+2, 20*time.Second)
	if len(reqs) < len(pages[groupA])+2 {
		t.Fatalf("no page after the window: %d webhook requests", len(reqs))
	}

	pages = hookPages(t, hook)
	a := pages[groupA]
	reported := 0
	var prev time.Time
	for i, p := range a {
		reported += p.Suppressed.Count
		if p.Kind == "summary" {
			continue // the count of a window that ended quietly
		}
		reported++ // the page's own callback
		if !prev.IsZero() && p.CreatedAt.Sub(prev) < window {
			t.Errorf("page %d of A came %v after the previous one, inside its %v window", i, p.CreatedAt.Sub(prev), window)
		}
		prev = p.CreatedAt
	}
	if reported != storm+1 {
		t.Errorf("A's pages stand for %d callbacks, want %d (pages: %+v)", reported, storm+1, a)
	}
	if b := pages[groupB]; len(b) != 1 || b[0].Suppressed.Count != 0 {
		t.Errorf("B's pages: %+v, want one with nothing suppressed", b)
	}
	t.Logf("A: %d pages for %d callbacks on 3 replicas: %+v", len(a), storm+1, a)
}

// waitMetricAbove polls until the metric is above floor.
func waitMetricAbove(t *testing.T, d *testutil.Daemon, name string, floor float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, d, name) <= floor {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want above %v", name, metric(t, d, name), floor)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const throttledMetric = `imalert_rule_decisions_total{reason="throttled",rule="group-rate-limit"}`

// Redis stopped mid-stream and restarted (with its data): callbacks are
// acknowledged throughout. fail_closed holds them in the journal and
// decides them on the shared state once Redis is back: no duplicate.
// fail_open decides on each replica's memory: a replica that saw the
// window keeps it, one that did not pages again, and once Redis is back
// its window applies to all.
func TestReplicasRedisOutage(t *testing.T) {
	t.Run("fail_closed", func(t *testing.T) {
		redis := testutil.StartRedisPersistent(t)
		hook := testutil.NewChatBot(t, "/hook", "", `{}`)
		ds := startReplicas(t, 2, writeReplicaSetup(t, redis.Addr, "fail_closed", "1h"), hook.URL)
		postToReplica(t, ds[0], "@TGS#A")
		hook.WaitRequests(1, 20*time.Second)

		redis.Stop()
		postToReplica(t, ds[1], "@TGS#A")
		postToReplica(t, ds[0], "@TGS#B")
		for _, d := range ds {
			waitMetricAbove(t, d, `imalert_state_decisions_without_redis_total{policy="fail_closed"}`, 0)
			waitMetric(t, d, "imalert_journal_unprocessed_events", 1)
		}
		if n := len(hook.Requests()); n != 1 {
			t.Fatalf("%d pages while Redis was down under fail_closed, want the 1 from before", n)
		}

		redis.Start()
		waitProcessed(t, ds, 3)
		hook.WaitRequests(2, 20*time.Second)
		pages := hookPages(t, hook)
		if len(pages[groupA]) != 1 || len(pages[groupB]) != 1 {
			t.Errorf("after Redis came back: %d pages for A, %d for B; want 1 and 1", len(pages[groupA]), len(pages[groupB]))
		}
		if got := metric(t, ds[1], throttledMetric); got != 1 {
			t.Errorf("replica 2 throttled %v callbacks of A, want 1 (the window replica 1 opened before the outage)", got)
		}
		waitMetric(t, ds[0], "imalert_state_redis_up", 1)
	})

	t.Run("fail_open", func(t *testing.T) {
		redis := testutil.StartRedisPersistent(t)
		hook := testutil.NewChatBot(t, "/hook", "", `{}`)
		ds := startReplicas(t, 3, writeReplicaSetup(t, redis.Addr, "fail_open", "1h"), hook.URL)
		postToReplica(t, ds[0], "@TGS#A")
		hook.WaitRequests(1, 20*time.Second)

		redis.Stop()
		postToReplica(t, ds[0], "@TGS#A") // replica 1 remembers its window
		postToReplica(t, ds[1], "@TGS#A") // replica 2 never saw it: a duplicate
		postToReplica(t, ds[0], "@TGS#B")
		waitProcessed(t, ds, 4)
		for _, d := range ds[:2] {
			waitMetricAbove(t, d, `imalert_state_decisions_without_redis_total{policy="fail_open"}`, 0)
		}
		hook.WaitRequests(3, 20*time.Second)
		pages := hookPages(t, hook)
		if len(pages[groupA]) != 2 || len(pages[groupB]) != 1 {
			t.Errorf("while Redis was down: %d pages for A, %d for B; want 2 (one duplicate) and 1", len(pages[groupA]), len(pages[groupB]))
		}
		if got := metric(t, ds[0], throttledMetric); got != 1 {
			t.Errorf("replica 1 throttled %v callbacks of A while Redis was down, want 1", got)
		}

		redis.Start()
		// Once Redis answers, the window opened before the outage applies
		// to a replica that has never seen the group.
		postToReplica(t, ds[2], "@TGS#A")
		waitProcessed(t, ds, 5)
		if got := metric(t, ds[2], throttledMetric); got != 1 {
			t.Errorf("replica 3 throttled %v callbacks of A after Redis came back, want 1", got)
		}
		if n := len(hook.Requests()); n != 3 {
			t.Errorf("%d pages in all, want 3", n)
		}
	})
}

// A page given up on gives back its window across replicas: Slack refuses
// the first page for good (a dead letter on replica 1), and the next
// callback, on replica 2, pages instead of being held back.
func TestReplicasDeadPageReleasesWindow(t *testing.T) {
	redis := testutil.StartRedis(t)
	slack := testutil.NewSlack(t)
	slack.Fail(testutil.SlackFault{Status: 404})
	cfg := writeReplicaSetup(t, redis.Addr, "fail_open", "1h")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("    type: webhook\n    url: ${HOOK_URL}\n"), []byte("    type: slack\n    webhook_url: ${HOOK_URL}\n"), 1)
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ds := startReplicas(t, 2, cfg, slack.WebhookURL())
	postToReplica(t, ds[0], "@TGS#A")
	waitMetric(t, ds[0], `imalert_delivery_dead_letters_total{receiver="hook"}`, 1)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(ds[0].Stderr(), "window released") {
		if time.Now().After(deadline) {
			t.Fatal("replica 1 never released the window of its dead page")
		}
		time.Sleep(20 * time.Millisecond)
	}
	postToReplica(t, ds[1], "@TGS#A")
	if msgs := slack.WaitMessages(1, 20*time.Second); len(msgs) != 1 {
		t.Fatalf("%d Slack messages after the window was released, want 1 (the second callback's page)", len(msgs))
	}
}
