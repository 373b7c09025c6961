package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imalert/imalert/internal/testutil"
)

var (
	killEvents = flag.Int("kill-events", 1200, "callbacks in TestKillMidStream")
	killGroups = flag.Int("kill-groups", 40, "groups in TestKillMidStream")
)

// The promise under test: once imalert has answered OK, every page the
// callback should cause is delivered, across a kill -9.
//
// A stream of callbacks for many groups goes to the real binary while the
// Slack-like server fails with 500s; the daemon is killed with SIGKILL
// halfway and started again on the same data directory, and the stream
// goes on. Then every group gets one more callback after its throttle
// window, so every suppressed count is reported. Per group, the pages
// (each standing for its own event plus the count it reports) must add up
// to exactly the acknowledged callbacks, plus at most those that were in
// flight at the kill. No page may come less than a throttle window after
// the previous one for its group, across the restart too. A page repeated
// because the kill came between Slack's answer and the outbox mark is a
// duplicate; there can be at most one (one Slack attempt in flight).
func TestKillMidStream(t *testing.T) {
	t.Parallel()
	slack := testutil.NewSlack(t)
	const failBefore, failAfter = 10, 5 // 500s before the kill, and after the restart
	for range failBefore {
		slack.Fail(testutil.SlackFault{Status: 500})
	}
	dir := t.TempDir()
	const window = time.Second
	cfg := `listen: 127.0.0.1:0
data_dir: data
apps:
  - sdkappid: 1400000000
rule_files: [rules.yaml]
receivers:
  - name: ops-slack
    type: slack
    webhook_url: ${SLACK_WEBHOOK_URL}
    pace: 20ms
    budget: {pages: 0}   # every group's page is counted here, not a storm page
    retry: {initial: 50ms, max: 200ms}
    timeout: 2s
`
	rule := `rules:
  - name: group-rate-limit
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 1s
    quiet_summary: false   # held-back counts are read from the next page
    receivers: [ops-slack]
`
	for name, content := range map[string]string{"imalert.yaml": cfg, "rules.yaml": rule} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"SLACK_WEBHOOK_URL=" + slack.WebhookURL()}
	args := []string{"serve", "--config", filepath.Join(dir, "imalert.yaml")}
	d := testutil.StartDaemon(t, env, args...)

	n, groups := *killEvents, *killGroups
	groupOf := func(seq int) string { return "g" + strconv.Itoa(seq%groups) }
	var (
		mu       sync.RWMutex // writers: the restart; readers: each request's address lookup
		base     = d.URL("/callback" + sampleQuery)
		acked    = make([]bool, n+groups)
		unknown  = make([]bool, n+groups)
		nAcked   atomic.Int64
		killOnce sync.Once
		killed   = make(chan struct{})
	)
	client := &http.Client{Timeout: 5 * time.Second}
	post := func(seq int) bool {
		mu.RLock()
		url := base
		mu.RUnlock()
		body := fmt.Sprintf(`{"GroupId":%q,"Type":"Public","From_Account":"u%d","ErrorCode":10023,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"seq=%d"}}]}`,
			groupOf(seq), seq%7, seq)
		resp, err := client.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && bytes.Contains(b, []byte(`"ActionStatus":"OK"`))
	}
	restart := func() {
		mu.Lock()
		defer mu.Unlock()
		d.Kill()
		for range failAfter {
			slack.Fail(testutil.SlackFault{Status: 500})
		}
		d = testutil.StartDaemon(t, env, args...)
		base = d.URL("/callback" + sampleQuery)
		close(killed)
	}

	seqs := make(chan int)
	go func() {
		for i := range n {
			seqs <- i
		}
		close(seqs)
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range seqs {
				if post(seq) {
					acked[seq] = true
					if nAcked.Add(1) == int64(n/2) {
						go killOnce.Do(restart)
					}
				} else {
					unknown[seq] = true // in flight at the kill: may or may not be journaled
				}
				time.Sleep(20 * time.Millisecond) // a stream, not a burst
			}
		}()
	}
	wg.Wait()
	<-killed
	streamed := time.Since(start)

	// One more callback per group after its window, so every count held
	// back is reported.
	time.Sleep(window + 200*time.Millisecond)
	for g := range groups {
		seq := n + g
		if !post(seq) {
			t.Fatalf("flush callback %d not acknowledged", seq)
		}
		acked[seq] = true
	}
	waitDrained(t, d)

	pageRE := regexp.MustCompile(`seq=(\d+)`)
	groupRE := regexp.MustCompile(`in (g\d+) \(`)
	supRE := regexp.MustCompile(`(\d+) more suppressed since`)
	type page struct {
		seq, count int
		group      string
	}
	var pages []page
	for _, m := range slack.Messages() {
		text := payloadText(t, m)
		s, g := pageRE.FindStringSubmatch(text), groupRE.FindStringSubmatch(text)
		if s == nil || g == nil {
			t.Fatalf("unreadable page:\n%s", text)
		}
		p := page{group: g[1], count: 1}
		p.seq, _ = strconv.Atoi(s[1])
		if c := supRE.FindStringSubmatch(text); c != nil {
			k, _ := strconv.Atoi(c[1])
			p.count += k
		}
		pages = append(pages, p)
	}
	// A duplicate shows the same first event; the later copy carries at
	// least what the earlier did (everything merged since), so it counts.
	last := map[int]int{}
	for i, p := range pages {
		last[p.seq] = i
	}
	dups := len(pages) - len(last)
	total, ack, unk := map[string]int{}, map[string]int{}, map[string]int{}
	for i, p := range pages {
		if last[p.seq] != i {
			continue
		}
		if !acked[p.seq] && !unknown[p.seq] {
			t.Errorf("page for seq %d, which was never sent", p.seq)
		}
		if groupOf(p.seq) != p.group {
			t.Errorf("page for seq %d shows group %s", p.seq, p.group)
		}
		total[p.group] += p.count
	}
	nUnknown := 0
	for seq := range acked {
		g := groupOf(seq)
		if seq >= n {
			g = "g" + strconv.Itoa(seq-n)
		}
		if acked[seq] {
			ack[g]++
		}
		if unknown[seq] {
			unk[g]++
			nUnknown++
		}
	}
	exact := 0
	for g := range groups {
		name := "g" + strconv.Itoa(g)
		switch {
		case total[name] < ack[name]:
			t.Errorf("group %s: pages account for %d events, %d were acknowledged: LOST %d", name, total[name], ack[name], ack[name]-total[name])
		case total[name] > ack[name]+unk[name]:
			t.Errorf("group %s: pages account for %d events, only %d acknowledged and %d in flight", name, total[name], ack[name], unk[name])
		case total[name] == ack[name]:
			exact++
		}
	}
	checkWindows(t, d, window)
	t.Logf("%d callbacks streamed in %v with kill -9 after %d acknowledged; %d acknowledged in all, %d in flight at the kill (unanswered)",
		n+groups, streamed.Round(time.Millisecond), n/2, int(nAcked.Load())+groups, nUnknown)
	t.Logf("%d Slack pages, %d attempts (%d answered 500); %d duplicate page(s); counts exact for %d of %d groups, the rest within the unanswered in-flight callbacks",
		len(pages), len(slack.Attempts()), failBefore+failAfter, dups, exact, groups)
	if dups > 1 {
		t.Errorf("%d duplicate pages, want at most 1 (the attempt in flight at the kill)", dups)
	}
}

// waitDrained waits until the daemon has processed every journaled
// callback and delivered every notification, and nothing changes for a
// moment.
func waitDrained(t *testing.T, d *testutil.Daemon) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	quiet := 0
	for quiet < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("not drained after 60s:\n%s", d.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
		if pending(t, d) == 0 && unprocessed(t, d) == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
}

func pending(t *testing.T, d *testutil.Daemon) int {
	t.Helper()
	return len(outboxRows(t, d, "state=pending"))
}

type deliveryRow struct {
	ID        string    `json:"id"`
	Rule      string    `json:"rule"`
	GroupKey  string    `json:"group_key"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
}

func outboxRows(t *testing.T, d *testutil.Daemon, query string) []deliveryRow {
	t.Helper()
	resp, err := http.Get(d.URL("/api/v1/deliveries?limit=1000&" + query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Deliveries []deliveryRow `json:"deliveries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("deliveries: %d %v", resp.StatusCode, err)
	}
	return out.Deliveries
}

var unprocessedRE = regexp.MustCompile(`(?m)^imalert_journal_unprocessed_events (\d+)`)

func unprocessed(t *testing.T, d *testutil.Daemon) int {
	t.Helper()
	resp, err := http.Get(d.URL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := unprocessedRE.FindSubmatch(b)
	if m == nil {
		t.Fatal("no imalert_journal_unprocessed_events in /metrics")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// checkWindows verifies from the outbox that no group was paged twice
// inside one throttle window, across the restart too.
func checkWindows(t *testing.T, d *testutil.Daemon, window time.Duration) {
	t.Helper()
	byKey := map[string][]time.Time{}
	for _, n := range outboxRows(t, d, "") {
		byKey[n.GroupKey] = append(byKey[n.GroupKey], n.CreatedAt)
	}
	if len(byKey) == 0 {
		t.Fatal("empty outbox")
	}
	for key, ts := range byKey {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		ts = slices.Compact(ts)
		for i := 1; i < len(ts); i++ {
			if gap := ts[i].Sub(ts[i-1]); gap < window {
				t.Errorf("%s paged twice %v apart, inside its %v window", key, gap, window)
			}
		}
	}
}
