package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/email"
	"github.com/imalert/imalert/alert/slack"
	"github.com/imalert/imalert/alert/webhook"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/internal/yamlfile"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// rig is a pipeline and a dispatcher on a fresh store, as serve wires them.
type rig struct {
	t      *testing.T
	st     *store.Store
	reg    *prometheus.Registry
	p      *alert.Pipeline
	d      *delivery.Dispatcher
	cancel context.CancelFunc
	done   chan struct{}
}

func newRig(t *testing.T, ruleSrc string, dests ...delivery.Destination) *rig {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return newRigOn(t, st, ruleSrc, dests...)
}

func newRigOn(t *testing.T, st *store.Store, ruleSrc string, dests ...delivery.Destination) *rig {
	t.Helper()
	f, err := rules.ParseFile("rules.yaml", []byte(ruleSrc))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, d := range dests {
		names[d.Name] = true
	}
	engine, err := rules.Compile([]*rules.File{f}, rules.Options{Receivers: names})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	d := delivery.NewDispatcher(delivery.DispatcherOptions{Metrics: delivery.NewMetrics(reg), Store: st, Destinations: dests, FallbackCheck: 100 * time.Millisecond})
	p := alert.NewPipeline(alert.PipelineOptions{Metrics: alert.NewMetrics(reg), Rules: engine, Store: st, Out: d})
	if err := p.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, st: st, reg: reg, p: p, d: d}
}

// start runs the pipeline and the dispatcher until the test ends.
func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.p.Run(ctx) }()
	go func() { defer wg.Done(); r.d.Run(ctx) }()
	go func() { wg.Wait(); close(r.done) }()
	r.t.Cleanup(r.stop)
}

func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

const sendQuery = "SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=json&OptPlatform=RESTAPI"

func (r *rig) ingest(code int, group string, seq int) {
	r.t.Helper()
	body := fmt.Appendf(nil, `{"GroupId":%q,"Type":"Public","From_Account":"u","ErrorCode":%d,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"seq=%d"}}]}`, group, code, seq)
	if err := r.p.Ingest(context.Background(), []callback.Raw{{Query: sendQuery, Body: body, ReceivedAt: time.Now()}}, nil); err != nil {
		r.t.Fatal(err)
	}
}

// metric sums the samples of a counter with the given labels.
func (r *rig) metric(name string, labels map[string]string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func (r *rig) states(receiver string) map[store.State]int {
	r.t.Helper()
	rows, err := r.st.Deliveries(context.Background(), store.Filter{Receiver: receiver, Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[store.State]int{}
	for _, n := range rows {
		out[n.State]++
	}
	return out
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func slackWebhook(t *testing.T, name, url string, pace time.Duration, retry delivery.Retry, timeout time.Duration) delivery.Destination {
	t.Helper()
	return delivery.Destination{
		Name: name, Pace: pace, Retry: retry, Timeout: timeout,
		Notifier: slack.New(&config.SlackReceiver{WebhookURL: config.Secret(url)}, &http.Client{Timeout: timeout}),
	}
}

const perGroupRule = `rules:
  - name: r
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 1h
    receivers: [slack]
`

var groupRE = regexp.MustCompile(`in (g\d+)`)

// Slack answers 500, 500, 429 with Retry-After: 1, hangs past the
// receiver's timeout, answers 500 again, then recovers. Every page is
// delivered once, with one attempt per answer (no busy loop), and the
// measured attempt times keep the pace and the Retry-After.
func TestSlackOutage(t *testing.T) {
	fake := testutil.NewSlack(t)
	fake.Fail(
		testutil.SlackFault{Status: 500},
		testutil.SlackFault{Status: 500},
		testutil.SlackFault{Status: 429, RetryAfter: "1"},
		testutil.SlackFault{Delay: 3 * time.Second}, // hangs: cut at the 300ms timeout
		testutil.SlackFault{Status: 500},
	)
	const pace = 200 * time.Millisecond
	r := newRig(t, perGroupRule, slackWebhook(t, "slack", fake.WebhookURL(), pace,
		delivery.Retry{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, GiveUpAfter: time.Hour}, 300*time.Millisecond))
	const pages = 5
	for i := range pages {
		r.ingest(10023, "g"+strconv.Itoa(i), i)
	}
	start := time.Now()
	r.start()
	msgs := fake.WaitMessages(pages, 20*time.Second)
	if len(msgs) != pages {
		t.Fatalf("%d of %d pages delivered", len(msgs), pages)
	}
	t.Logf("%d pages delivered through 5 failures in %v", pages, time.Since(start).Round(time.Millisecond))
	time.Sleep(300 * time.Millisecond) // nothing more may arrive
	seen := map[string]bool{}
	for _, m := range fake.Messages() {
		g := groupRE.FindStringSubmatch(m.Text)
		if g == nil || seen[g[1]] {
			t.Errorf("unexpected or repeated page %q", m.Text)
			continue
		}
		seen[g[1]] = true
	}
	attempts := fake.Attempts()
	if len(attempts) != pages+5 {
		t.Errorf("%d attempts for %d pages and 5 failures, want exactly %d", len(attempts), pages, pages+5)
	}
	// Pacing counts from the end of an attempt, so arrivals are at least
	// a pace apart whatever the latency; allow only clock rounding.
	const slack = 2 * time.Millisecond
	for i := 1; i < len(attempts); i++ {
		gap := attempts[i].Sub(attempts[i-1])
		t.Logf("attempt %2d at +%v (gap %v)", i, attempts[i].Sub(attempts[0]).Round(time.Millisecond), gap.Round(time.Millisecond))
		if gap < pace-slack {
			t.Errorf("attempts %d and %d only %v apart, pace is %v", i-1, i, gap, pace)
		}
	}
	if len(attempts) > 3 {
		if gap := attempts[3].Sub(attempts[2]); gap < time.Second-slack {
			t.Errorf("attempt after 429 Retry-After: 1 came after %v", gap)
		}
	}
	if got := r.metric("imalert_delivery_failures_total", map[string]string{"reason": "timeout"}); got != 1 {
		t.Errorf("timeouts = %v, want 1 (the hang)", got)
	}
	if got := r.metric("imalert_delivery_failures_total", map[string]string{"reason": "http_429"}); got != 1 {
		t.Errorf("429s = %v, want 1", got)
	}
	waitFor(t, "all pages marked sent", 5*time.Second, func() bool { s := r.states("slack"); return s[store.Sent] == pages && len(s) == 1 })
}

// The relay refuses with 451 twice, then goes down, then comes back: every
// mail is delivered after recovery, with backoff between attempts rather
// than a busy loop.
func TestSMTPOutage(t *testing.T) {
	relay := testutil.NewSMTP(t)
	relay.Refuse(&gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"},
		&gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"})
	cfg := &config.EmailReceiver{SMTPHost: relay.Host(), SMTPPort: relay.Port(), TLS: config.TLSNone,
		From: "imalert@example.com", To: []string{"oncall@example.com"}, Timeout: yamlfile.Duration(time.Second)}
	r := newRig(t, strings.ReplaceAll(perGroupRule, "[slack]", "[mail]"), delivery.Destination{
		Name: "mail", Notifier: email.New(cfg), Timeout: time.Second,
		Retry: delivery.Retry{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, GiveUpAfter: time.Hour},
	})
	r.ingest(10023, "g0", 0)
	r.start()
	if got := relay.WaitMails(1, 10*time.Second); len(got) != 1 {
		t.Fatalf("first mail not delivered through two 451s")
	}
	if got := r.metric("imalert_delivery_failures_total", map[string]string{"reason": "smtp_451"}); got != 2 {
		t.Errorf("451 failures = %v, want 2", got)
	}

	relay.Close()
	down := time.Now()
	before := r.metric("imalert_delivery_attempts_total", nil)
	for i := 1; i <= 3; i++ {
		r.ingest(10023, "g"+strconv.Itoa(i), i)
	}
	const outage = 1500 * time.Millisecond
	time.Sleep(outage)
	during := r.metric("imalert_delivery_attempts_total", nil) - before
	relay.Restart(t)
	if got := relay.WaitMails(4, 10*time.Second); len(got) != 4 {
		t.Fatalf("%d of 4 mails after the relay came back", len(got))
	}
	t.Logf("relay down %v: %v attempts while down; all mail delivered %v after it went down", outage, during, time.Since(down).Round(time.Millisecond))
	// Backoff 100ms doubling to 400ms (jittered to half) allows at most
	// about 1.5s/50ms...; in practice a handful. A busy loop makes thousands.
	if during < 2 || during > 15 {
		t.Errorf("%v attempts during a %v outage, want a few (backoff)", during, outage)
	}
	waitFor(t, "4 mails marked sent", 5*time.Second, func() bool { s := r.states("mail"); return s[store.Sent] == 4 && len(s) == 1 })
}

// While Slack is failing, twenty pages for one rule and key (no throttle)
// pile up; they go out as one message whose count adds up to twenty.
func TestMergeWhileBackedUp(t *testing.T) {
	fake := testutil.NewSlack(t)
	fake.Fail(testutil.SlackFault{Status: 500}, testutil.SlackFault{Status: 500}, testutil.SlackFault{Status: 503})
	r := newRig(t, strings.Replace(perGroupRule, "throttle: 1h", "throttle: 0s", 1),
		slackWebhook(t, "slack", fake.WebhookURL(), 0, delivery.Retry{Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond}, time.Second))
	const n = 20
	for i := range n {
		r.ingest(10023, "g1", i)
	}
	r.start()
	fake.WaitMessages(1, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // nothing more may arrive
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	text := payloadText(msgs[0].Payload)
	for _, want := range []string{"19 more suppressed since", "19 later pages merged in", "seq=0"} {
		if !strings.Contains(text, want) {
			t.Errorf("merged page lacks %q:\n%s", want, text)
		}
	}
	waitFor(t, "1 sent and the rest merged", 5*time.Second, func() bool {
		s := r.states("slack")
		return s[store.Sent] == 1 && s[store.Merged] == n-1
	})
	if got := r.metric("imalert_delivery_merged_total", nil); got != n-1 {
		t.Errorf("merged metric = %v", got)
	}
}

func payloadText(v any) string { return strings.Join(testutil.JSONStrings(v), "\n") }

// hook is a webhook receiving end that records payloads.
type hook struct {
	mu       sync.Mutex
	payloads []webhook.Payload
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p webhook.Payload
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &p); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.payloads = append(h.payloads, p)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.payloads)
}

func hookDest(t *testing.T, name string, h *hook) delivery.Destination {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return delivery.Destination{Name: name, Notifier: webhook.New(&config.WebhookReceiver{URL: config.Secret(srv.URL)}, srv.Client()), Timeout: time.Second}
}

const fallbackRules = `rules:
  - name: paged
    match: {error_code: 10023}
    group_by: [GroupId]
    receivers: [slack]
    fallback: {receiver: hook, after: 300ms}
  - name: plain
    match: {error_code: 10024}
    group_by: [GroupId]
    receivers: [slack]
`

// Slack keeps failing: the page whose rule has a fallback goes to the
// fallback once Slack has failed for 300ms; the other is given up after
// give_up_after and kept as a dead letter, counted and listed.
func TestFallbackAndDeadLetter(t *testing.T) {
	fake := testutil.NewSlack(t)
	for range 100 {
		fake.Fail(testutil.SlackFault{Status: 500})
	}
	h := &hook{}
	r := newRig(t, fallbackRules,
		slackWebhook(t, "slack", fake.WebhookURL(), 0, delivery.Retry{Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond, GiveUpAfter: 800 * time.Millisecond}, time.Second),
		hookDest(t, "hook", h))
	start := time.Now()
	r.ingest(10023, "g1", 1)
	r.ingest(10024, "g2", 2)
	r.start()
	waitFor(t, "the fallback page", 5*time.Second, func() bool { return h.count() == 1 })
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("rerouted after %v, before the fallback time", d)
	}
	waitFor(t, "the dead letter", 5*time.Second, func() bool { return r.states("slack")[store.Dead] == 1 })
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("given up after %v, before give_up_after", d)
	}
	if p := h.payloads[0]; p.Rule != "paged" || p.Receiver != "hook" || p.Event.GroupID != "g1" {
		t.Errorf("fallback payload = %+v", p)
	}
	if s := r.states("slack"); s[store.Rerouted] != 1 || s[store.Dead] != 1 || s[store.Pending] != 0 {
		t.Errorf("slack outbox states = %v", s)
	}
	dead, _ := r.st.Deliveries(context.Background(), store.Filter{State: store.Dead})
	if len(dead) != 1 || dead[0].Rule != "plain" || !strings.Contains(dead[0].LastError, "http_500") || dead[0].Attempts < 2 {
		t.Errorf("dead letters = %+v", dead)
	}
	if v := delivery.Deliveries(dead); v[0].State != "dead" || v[0].Kind != "event" || v[0].Severity == "" {
		t.Errorf("dead letter view = %+v", v[0])
	}
	if got := r.metric("imalert_delivery_dead_letters_total", nil); got != 1 {
		t.Errorf("dead letter metric = %v", got)
	}
	if got := r.metric("imalert_delivery_rerouted_total", map[string]string{"fallback": "hook"}); got != 1 {
		t.Errorf("rerouted metric = %v", got)
	}
}

// A permanent failure (404 channel_not_found) does not wait: a page with a
// fallback goes there at once, one without is a dead letter at once.
func TestPermanentFailure(t *testing.T) {
	fake := testutil.NewSlack(t)
	fake.Fail(testutil.SlackFault{Status: 404}, testutil.SlackFault{Status: 404})
	h := &hook{}
	r := newRig(t, strings.Replace(fallbackRules, "after: 300ms", "after: 1h", 1),
		slackWebhook(t, "slack", fake.WebhookURL(), 0, delivery.Retry{Initial: time.Hour}, time.Second), hookDest(t, "hook", h))
	r.ingest(10023, "g1", 1)
	r.ingest(10024, "g2", 2)
	r.start()
	waitFor(t, "both outcomes", 5*time.Second, func() bool {
		s := r.states("slack")
		return h.count() == 1 && s[store.Dead] == 1 && s[store.Rerouted] == 1
	})
	if n := len(fake.Attempts()); n != 2 {
		t.Errorf("%d attempts, want 2 (no retry of a permanent failure)", n)
	}
}

// Shutdown drains what it can by the deadline and leaves the rest in the
// outbox; the next start delivers it.
func TestDrainThenResume(t *testing.T) {
	fake := testutil.NewSlack(t)
	for range 100 {
		fake.Fail(testutil.SlackFault{Status: 500})
	}
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	retry := delivery.Retry{Initial: 200 * time.Millisecond, Max: 200 * time.Millisecond}
	r := newRigOn(t, st, perGroupRule, slackWebhook(t, "slack", fake.WebhookURL(), 0, retry, time.Second))
	r.ingest(10023, "g1", 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pdone, ddone := make(chan struct{}), make(chan struct{})
	go func() { defer close(pdone); r.p.Run(ctx) }()
	go func() { defer close(ddone); r.d.Run(ctx) }()
	waitFor(t, "a failed attempt", 5*time.Second, func() bool { return len(fake.Attempts()) >= 2 })
	r.p.Stop()
	<-pdone
	start := time.Now()
	r.d.Drain(start.Add(500 * time.Millisecond))
	select {
	case <-ddone:
	case <-time.After(2 * time.Second):
		t.Fatal("dispatcher did not return by the drain deadline")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("drain took %v", d)
	}
	if s := r.states("slack"); s[store.Pending] != 1 {
		t.Fatalf("outbox states after drain = %v, want 1 pending", s)
	}

	healthy := testutil.NewSlack(t)
	r2 := newRigOn(t, st, perGroupRule, slackWebhook(t, "slack", healthy.WebhookURL(), 0, retry, time.Second))
	r2.start()
	if msgs := healthy.WaitMessages(1, 5*time.Second); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "g1") {
		t.Fatalf("resumed delivery: %v", msgs)
	}
}

// With a bot token and repeats: thread, a repeat of an open incident
// replies in the first message's thread; with repeats: update, it updates
// that message.
func TestSlackIncidents(t *testing.T) {
	for _, mode := range []string{config.RepeatsThread, config.RepeatsUpdate} {
		t.Run(mode, func(t *testing.T) {
			fake := testutil.NewSlack(t)
			n := slack.New(&config.SlackReceiver{Token: "xoxb-test", Channel: "C0123", APIURL: fake.APIURL(), Repeats: mode}, &http.Client{Timeout: time.Second})
			r := newRig(t, strings.Replace(perGroupRule, "throttle: 1h", "throttle: 0s", 1),
				delivery.Destination{Name: "slack", Notifier: n, Timeout: time.Second, IncidentTTL: time.Hour})
			r.start()
			r.ingest(10023, "g1", 1)
			first := fake.WaitMessages(1, 5*time.Second)
			if len(first) != 1 || first[0].Path != "/api/chat.postMessage" || first[0].Payload["thread_ts"] != nil {
				t.Fatalf("first message = %+v", first)
			}
			var inc store.Incident
			waitFor(t, "the incident", 5*time.Second, func() bool {
				i, ok, err := r.st.Incident(context.Background(), "slack", "r", `GroupId="g1"`)
				inc = i
				return err == nil && ok
			})
			channel, ts, _ := strings.Cut(inc.Ref, " ")
			r.ingest(10023, "g1", 2)
			msgs := fake.WaitMessages(2, 5*time.Second)
			if len(msgs) != 2 {
				t.Fatalf("%d messages", len(msgs))
			}
			second := msgs[1]
			switch mode {
			case config.RepeatsThread:
				if second.Path != "/api/chat.postMessage" || second.Payload["thread_ts"] != ts || second.Channel != channel {
					t.Errorf("repeat = %s %v, want a reply in thread %s", second.Path, second.Payload["thread_ts"], ts)
				}
			case config.RepeatsUpdate:
				if second.Path != "/api/chat.update" || second.Payload["ts"] != ts || second.Channel != channel {
					t.Errorf("repeat = %s %v, want an update of %s", second.Path, second.Payload["ts"], ts)
				}
			}
			if !strings.Contains(second.Text, "g1") {
				t.Errorf("repeat text %q", second.Text)
			}
			// Another key opens its own incident.
			r.ingest(10023, "g2", 3)
			third := fake.WaitMessages(3, 5*time.Second)
			if len(third) != 3 || third[2].Path != "/api/chat.postMessage" || third[2].Payload["thread_ts"] != nil {
				t.Errorf("new incident = %+v", third[len(third)-1])
			}
		})
	}
}

// At Slack's default pace, one message a second per channel, a burst of
// pages for one webhook goes out a second apart.
func TestSlackDefaultPace(t *testing.T) {
	fake := testutil.NewSlack(t)
	r := newRig(t, perGroupRule, slackWebhook(t, "slack", fake.WebhookURL(), config.DefaultSlackPace,
		config.DefaultRetry, 2*time.Second))
	const pages = 3
	for i := range pages {
		r.ingest(10023, "g"+strconv.Itoa(i), i)
	}
	r.start()
	if msgs := fake.WaitMessages(pages, 10*time.Second); len(msgs) != pages {
		t.Fatalf("%d of %d pages delivered", len(msgs), pages)
	}
	attempts := fake.Attempts()
	for i := 1; i < len(attempts); i++ {
		gap := attempts[i].Sub(attempts[i-1])
		t.Logf("message %d %v after the previous one", i, gap.Round(time.Millisecond))
		if gap < config.DefaultSlackPace-2*time.Millisecond {
			t.Errorf("messages %d and %d %v apart, faster than the default pace %v", i-1, i, gap, config.DefaultSlackPace)
		}
	}
}

// Five pages for one key pile up; Slack answers 404 (permanent): the merged
// pages go to the fallback, which reports the 5 events once, not twice.
func TestPermanentFailureMergedFallbackCountsOnce(t *testing.T) {
	fake := testutil.NewSlack(t)
	fake.Fail(testutil.SlackFault{Status: 404})
	h := &hook{}
	rules := strings.Replace(strings.Replace(fallbackRules, "after: 300ms", "after: 1h", 1), "group_by: [GroupId]\n    receivers: [slack]\n    fallback", "group_by: [GroupId]\n    throttle: 0s\n    receivers: [slack]\n    fallback", 1)
	r := newRig(t, rules,
		slackWebhook(t, "slack", fake.WebhookURL(), 0, delivery.Retry{Initial: time.Hour}, time.Second), hookDest(t, "hook", h))
	for i := range 5 {
		r.ingest(10023, "g1", i)
	}
	r.start()
	waitFor(t, "fallback", 5*time.Second, func() bool { return h.count() >= 1 })
	time.Sleep(500 * time.Millisecond)
	h.mu.Lock()
	defer h.mu.Unlock()
	total := 0
	for _, p := range h.payloads {
		n := 1
		if p.Suppressed != nil {
			n += p.Suppressed.Count
		}
		t.Logf("fallback payload: suppressed=%+v merged=%d", p.Suppressed, p.Merged)
		total += n
	}
	t.Logf("slack states: %v, hook states: %v", r.states("slack"), r.states("hook"))
	if total != 5 {
		t.Errorf("fallback pages stand for %d events, want 5 (%d payloads)", total, len(h.payloads))
	}
}

// Slack answers 429 with a day's Retry-After: the queue waits (an hour at
// most), but the page whose rule has a fallback goes there after the
// rule's fallback time, not after the wait.
func TestFallbackDuringLongRetryAfter(t *testing.T) {
	fake := testutil.NewSlack(t)
	fake.Fail(testutil.SlackFault{Status: 429, RetryAfter: "86400"})
	h := &hook{}
	r := newRig(t, fallbackRules,
		slackWebhook(t, "slack", fake.WebhookURL(), 0, delivery.Retry{Initial: 50 * time.Millisecond, Max: time.Second, GiveUpAfter: time.Hour}, time.Second),
		hookDest(t, "hook", h))
	r.ingest(10023, "g1", 1)
	start := time.Now()
	r.start()
	waitFor(t, "the fallback", 5*time.Second, func() bool { return h.count() == 1 })
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("fallback after %v, want soon after the rule's 300ms", took)
	}
	if n := len(fake.Attempts()); n != 1 {
		t.Errorf("%d Slack attempts, want 1: the Retry-After holds the queue", n)
	}
}
