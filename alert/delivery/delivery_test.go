package delivery_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/store"
)

const perGroupRule = `rules:
  - name: r
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 1h
    receivers: [slack]
`

// The destination answers 500, 500, 429 with Retry-After: 1s, hangs past
// the receiver's timeout, answers 500 again, then recovers. Every page is
// delivered once, with one attempt per answer (no busy loop); attempts
// keep the pace and the Retry-After.
func TestOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		f.fail(status(500), status(500),
			&notify.DeliveryError{Retryable: true, Reason: "http_429", RetryAfter: time.Second},
			errHang, status(500))
		const pace = 200 * time.Millisecond
		r := newRig(t, perGroupRule, dest("slack", f, pace,
			delivery.Retry{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, GiveUpAfter: time.Hour}, 300*time.Millisecond))
		const pages = 5
		for i := range pages {
			r.ingest(10023, "g"+strconv.Itoa(i), i)
		}
		r.start()
		took := await(t, "pages sent", time.Hour, r.settled("slack", map[store.State]int{store.Sent: pages}))
		t.Logf("%d pages delivered through 5 failures in %v", pages, took)

		var groups []string
		for _, n := range f.delivered() {
			groups = append(groups, n.Event.GroupID)
		}
		slices.Sort(groups)
		if want := []string{"g0", "g1", "g2", "g3", "g4"}; !slices.Equal(groups, want) {
			t.Errorf("delivered %v, want each of %v once", groups, want)
		}
		attempts := f.tries()
		if len(attempts) != pages+5 {
			t.Errorf("%d attempts for %d pages and 5 failures, want exactly %d", len(attempts), pages, pages+5)
		}
		// Pacing counts from the end of an attempt, so attempts are at
		// least a pace apart whatever the latency.
		for i := 1; i < len(attempts); i++ {
			if gap := attempts[i].Sub(attempts[i-1]); gap < pace {
				t.Errorf("attempts %d and %d only %v apart, pace is %v", i-1, i, gap, pace)
			}
		}
		if gap := attempts[3].Sub(attempts[2]); gap < time.Second {
			t.Errorf("attempt after 429 Retry-After: 1s came after %v", gap)
		}
		if gap := attempts[4].Sub(attempts[3]); gap < 300*time.Millisecond {
			t.Errorf("the hung attempt was cut after %v, before the 300ms timeout", gap)
		}
		for reason, want := range map[string]float64{"timeout": 1, "http_429": 1, "http_500": 3} {
			if got := r.metric("imalert_delivery_failures_total", map[string]string{"reason": reason}); got != want {
				t.Errorf("%s failures = %v, want %v", reason, got, want)
			}
		}
	})
}

// The destination refuses twice, then is down for a while, then comes
// back: every page is delivered after recovery, with backoff between
// attempts rather than a busy loop.
func TestBackoffWhileDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		f.fail(notify.Retryable("smtp_451", context.DeadlineExceeded), notify.Retryable("smtp_451", context.DeadlineExceeded))
		r := newRig(t, strings.ReplaceAll(perGroupRule, "[slack]", "[mail]"), dest("mail", f, 0,
			delivery.Retry{Initial: 100 * time.Millisecond, Max: 400 * time.Millisecond, GiveUpAfter: time.Hour}, time.Second))
		r.ingest(10023, "g0", 0)
		r.start()
		await(t, "the first page", time.Hour, r.settled("mail", map[store.State]int{store.Sent: 1}))
		if got := r.metric("imalert_delivery_failures_total", map[string]string{"reason": "smtp_451"}); got != 2 {
			t.Errorf("451 failures = %v, want 2", got)
		}

		f.setDown(notify.Retryable("smtp_connect", context.DeadlineExceeded))
		before := len(f.tries())
		for i := 1; i <= 3; i++ {
			r.ingest(10023, "g"+strconv.Itoa(i), i)
		}
		const outage = 1500 * time.Millisecond
		time.Sleep(outage)
		during := len(f.tries()) - before
		f.setDown(nil)
		await(t, "every page after recovery", time.Hour, r.settled("mail", map[store.State]int{store.Sent: 4}))
		// Backoff from 100ms doubling to 400ms, jittered down to half,
		// allows about 3 to 8 attempts in 1.5s; a busy loop makes
		// thousands.
		if during < 3 || during > 10 {
			t.Errorf("%d attempts during a %v outage, want a few (backoff)", during, outage)
		}
	})
}

// While the destination is failing, twenty pages for one rule and key (no
// throttle) pile up; they go out as one message whose count adds up to
// twenty.
func TestMergeWhileBackedUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		f.fail(status(500), status(500), status(503))
		r := newRig(t, strings.Replace(perGroupRule, "throttle: 1h", "throttle: 0s", 1),
			dest("slack", f, 0, delivery.Retry{Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond}, time.Second))
		const n = 20
		for i := range n {
			r.ingest(10023, "g1", i)
		}
		r.start()
		// The outbox proves every page was dealt with: one sent, the rest
		// merged into it.
		await(t, "1 sent and the rest merged", time.Hour, r.settled("slack", map[store.State]int{store.Sent: 1, store.Merged: n - 1}))
		msgs := f.delivered()
		if len(msgs) != 1 {
			t.Fatalf("%d messages, want 1", len(msgs))
		}
		m := msgs[0]
		if m.Throttle.Suppressed != n-1 || m.Merged != n-1 || !strings.Contains(m.Event.Excerpt(), "seq=0") {
			t.Errorf("merged page: suppressed %d, merged %d, want %d each, showing the first event", m.Throttle.Suppressed, m.Merged, n-1)
		}
		if got := r.metric("imalert_delivery_merged_total", nil); got != n-1 {
			t.Errorf("merged metric = %v", got)
		}
	})
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

// The destination keeps failing: the page whose rule has a fallback goes
// to the fallback once it has failed for 300ms; the other is given up
// after give_up_after and kept as a dead letter, counted and listed.
func TestFallbackAndDeadLetter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, h := &fake{}, &fake{}
		f.setDown(status(500))
		r := newRig(t, fallbackRules,
			dest("slack", f, 0, delivery.Retry{Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond, GiveUpAfter: 800 * time.Millisecond}, time.Second),
			dest("hook", h, 0, delivery.Retry{}, time.Second))
		start := time.Now()
		r.ingest(10023, "g1", 1)
		r.ingest(10024, "g2", 2)
		r.start()
		await(t, "the fallback page", time.Hour, func() bool { return len(h.delivered()) == 1 })
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("rerouted after %v, before the fallback time", d)
		}
		await(t, "the dead letter", time.Hour, func() bool { return r.states("slack")[store.Dead] == 1 })
		if d := time.Since(start); d < 800*time.Millisecond {
			t.Errorf("given up after %v, before give_up_after", d)
		}
		if n := h.delivered()[0]; n.Rule != "paged" || n.Receiver != "hook" || n.Event.GroupID != "g1" {
			t.Errorf("fallback page = %+v", n)
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
	})
}

// A permanent failure (404 channel_not_found) does not wait: a page with a
// fallback goes there at once, one without is a dead letter at once.
func TestPermanentFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, h := &fake{}, &fake{}
		f.fail(status(404), status(404))
		r := newRig(t, strings.Replace(fallbackRules, "after: 300ms", "after: 1h", 1),
			dest("slack", f, 0, delivery.Retry{Initial: time.Hour}, time.Second), dest("hook", h, 0, delivery.Retry{}, time.Second))
		r.ingest(10023, "g1", 1)
		r.ingest(10024, "g2", 2)
		r.start()
		took := await(t, "both outcomes", time.Hour, func() bool {
			return r.settled("slack", map[store.State]int{store.Dead: 1, store.Rerouted: 1})() && len(h.delivered()) == 1
		})
		if took >= time.Second {
			t.Errorf("outcomes after %v: a permanent failure waited", took)
		}
		if n := len(f.tries()); n != 2 {
			t.Errorf("%d attempts, want 2 (no retry of a permanent failure)", n)
		}
	})
}

// Shutdown drains what it can by the deadline and leaves the rest in the
// outbox; the next start delivers it.
func TestDrainThenResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		f.setDown(status(500))
		st := openStore(t)
		retry := delivery.Retry{Initial: 200 * time.Millisecond, Max: 200 * time.Millisecond}
		r := newRigOn(t, st, perGroupRule, dest("slack", f, 0, retry, time.Second))
		r.ingest(10023, "g1", 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pdone, ddone := make(chan struct{}), make(chan struct{})
		go func() { defer close(pdone); r.p.Run(ctx) }()
		go func() { defer close(ddone); r.d.Run(ctx) }()
		await(t, "a failed attempt", time.Hour, func() bool { return len(f.tries()) >= 2 })
		r.p.Stop()
		<-pdone
		start := time.Now()
		deadline := start.Add(500 * time.Millisecond)
		r.d.Drain(deadline)
		<-ddone
		if time.Now().After(deadline) {
			t.Errorf("dispatcher returned %v after the drain deadline", time.Since(deadline))
		}
		if s := r.states("slack"); s[store.Pending] != 1 {
			t.Fatalf("outbox states after drain = %v, want 1 pending", s)
		}

		healthy := &fake{}
		r2 := newRigOn(t, st, perGroupRule, dest("slack", healthy, 0, retry, time.Second))
		r2.start()
		await(t, "the resumed page", time.Hour, r2.settled("slack", map[store.State]int{store.Sent: 1}))
		if ns := healthy.delivered(); len(ns) != 1 || ns[0].Event.GroupID != "g1" {
			t.Fatalf("resumed delivery: %v", ns)
		}
	})
}

// At Slack's default pace, one message a second per channel, a burst of
// pages for one destination goes out a second apart, counted from the end
// of the previous attempt: the destination sees them a second apart
// whatever the latency.
func TestDefaultPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const latency = 300 * time.Millisecond
		f := &fake{latency: latency}
		r := newRig(t, perGroupRule, dest("slack", f, config.DefaultSlackPace, config.DefaultRetry, 2*time.Second))
		const pages = 3
		for i := range pages {
			r.ingest(10023, "g"+strconv.Itoa(i), i)
		}
		r.start()
		await(t, "pages sent", time.Hour, r.settled("slack", map[store.State]int{store.Sent: pages}))
		attempts := f.tries()
		for i := 1; i < len(attempts); i++ {
			if gap := attempts[i].Sub(attempts[i-1]); gap < latency+config.DefaultSlackPace {
				t.Errorf("messages %d and %d started %v apart, want the %v latency plus the default pace %v", i-1, i, gap, latency, config.DefaultSlackPace)
			}
		}
	})
}

// Five pages for one key pile up; the destination answers 404
// (permanent): the merged pages go to the fallback, which reports the 5
// events once, not twice.
func TestPermanentFailureMergedFallbackCountsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, h := &fake{}, &fake{}
		f.fail(status(404))
		rules := strings.Replace(strings.Replace(fallbackRules, "after: 300ms", "after: 1h", 1), "group_by: [GroupId]\n    receivers: [slack]\n    fallback", "group_by: [GroupId]\n    throttle: 0s\n    receivers: [slack]\n    fallback", 1)
		r := newRig(t, rules, dest("slack", f, 0, delivery.Retry{Initial: time.Hour}, time.Second), dest("hook", h, 0, delivery.Retry{}, time.Second))
		for i := range 5 {
			r.ingest(10023, "g1", i)
		}
		r.start()
		// Nothing is left pending on either side: every page was dealt
		// with, so the fallback's messages are all there will be.
		await(t, "every page rerouted and delivered", time.Hour, func() bool {
			s, hs := r.states("slack"), r.states("hook")
			return s[store.Pending] == 0 && s[store.Rerouted] > 0 && hs[store.Pending] == 0 && hs[store.Sent] > 0
		})
		total := 0
		for _, n := range h.delivered() {
			total += 1 + n.Throttle.Suppressed
		}
		if total != 5 {
			t.Errorf("fallback pages stand for %d events, want 5 (%d messages)", total, len(h.delivered()))
		}
	})
}

// The destination answers 429 with a day's Retry-After: the queue waits
// (an hour at most), but the page whose rule has a fallback goes there
// after the rule's fallback time, not after the wait.
func TestFallbackDuringLongRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, h := &fake{}, &fake{}
		f.fail(&notify.DeliveryError{Retryable: true, Reason: "http_429", RetryAfter: 24 * time.Hour})
		r := newRig(t, fallbackRules,
			dest("slack", f, 0, delivery.Retry{Initial: 50 * time.Millisecond, Max: time.Second, GiveUpAfter: time.Hour}, time.Second),
			dest("hook", h, 0, delivery.Retry{}, time.Second))
		r.ingest(10023, "g1", 1)
		r.start()
		took := await(t, "the fallback", time.Hour, func() bool { return len(h.delivered()) == 1 })
		// The rule's 300ms, and at most one fallback check (100ms) more.
		if took < 300*time.Millisecond || took > 500*time.Millisecond {
			t.Errorf("fallback after %v, want soon after the rule's 300ms", took)
		}
		if n := len(f.tries()); n != 1 {
			t.Errorf("%d attempts, want 1: the Retry-After holds the queue", n)
		}
	})
}

// A receiver reload swaps the notifier of a running queue: its pending
// page, held in backoff, goes out through the new notifier, and what
// cannot change while running is named.
func TestSetDestinations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old, repl := &fake{}, &fake{}
		old.setDown(status(500))
		retry := delivery.Retry{Initial: time.Minute, Max: time.Minute, GiveUpAfter: time.Hour}
		const rules = "rules:\n  - name: r\n    receivers: [slack, hook]\n"
		r := newRig(t, rules, dest("slack", old, 0, retry, time.Second), dest("hook", &fake{}, 0, retry, time.Second))
		r.ingest(10023, "g1", 1)
		r.start()
		await(t, "a failed attempt", time.Hour, func() bool { return len(old.tries()) == 1 })

		restart := r.d.SetDestinations([]delivery.Destination{
			dest("slack", repl, 0, retry, time.Second),
			dest("new", &fake{}, 0, retry, time.Second),
		})
		if want := []string{"hook", "new"}; !slices.Equal(restart, want) {
			t.Errorf("needs a restart: %v, want %v", restart, want)
		}
		took := await(t, "the page through the new notifier", time.Hour, r.settled("slack", map[store.State]int{store.Sent: 1}))
		if len(repl.delivered()) != 1 || len(old.tries()) != 1 {
			t.Errorf("new notifier sent %d, old tried %d times; want 1 and 1", len(repl.delivered()), len(old.tries()))
		}
		if took < 30*time.Second {
			t.Errorf("sent %v after the swap: the queue's backoff was lost", took)
		}
		if got := r.d.SetDestinations([]delivery.Destination{dest("slack", repl, time.Second, retry, time.Second), dest("hook", &fake{}, 0, retry, time.Second)}); !slices.Equal(got, []string{"slack"}) {
			t.Errorf("a changed pace: needs a restart %v, want [slack]", got)
		}
	})
}
