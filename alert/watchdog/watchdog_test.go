package watchdog_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/alert/watchdog"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// pages returns the watchdog pages to receiver, oldest first, as the
// console shows them.
func pages(t *testing.T, st *store.Store, receiver string) []string {
	t.Helper()
	rows, err := st.Deliveries(context.Background(), store.Filter{Receiver: receiver})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(rows)
	var out []string
	for _, r := range rows {
		if r.Rule != watchdog.Rule {
			continue
		}
		n, _ := delivery.Decode(r, callback.Limits{})
		out = append(out, page.Render(page.Build(n)))
	}
	return out
}

func check(t *testing.T, w *watchdog.Watchdog) {
	t.Helper()
	if err := w.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// IM silent for the period pages once; a callback afterwards resolves it.
func TestNoCallbacks(t *testing.T) {
	st := openStore(t)
	c := &clock{time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)}
	w := watchdog.New(watchdog.Options{Source: st, Outbox: st, Receiver: "ops-mail", NoCallbacksFor: 30 * time.Minute, Now: c.now})
	steps := []struct {
		at       time.Duration
		callback bool
		want     int
		text     string
	}{
		{10 * time.Minute, false, 0, ""},
		{30 * time.Minute, false, 1, "IM has sent no callback for 30m"},
		{45 * time.Minute, false, 1, ""}, // still silent: no second page
		{46 * time.Minute, true, 2, "Resolved: IM sends callbacks again"},
		{70 * time.Minute, false, 2, ""},
		{76 * time.Minute, false, 3, "IM has sent no callback for 30m"},
	}
	for _, s := range steps {
		c.t = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC).Add(s.at)
		if s.callback {
			if _, err := st.Append(context.Background(), callback.Raw{Query: "SdkAppid=1", Body: []byte(`{}`), ReceivedAt: c.t}); err != nil {
				t.Fatal(err)
			}
		}
		check(t, w)
		got := pages(t, st, "ops-mail")
		if len(got) != s.want {
			t.Fatalf("at +%s: %d pages, want %d:\n%s", s.at, len(got), s.want, strings.Join(got, "\n"))
		}
		if s.text != "" && !strings.Contains(got[len(got)-1], s.text) {
			t.Errorf("at +%s: page lacks %q:\n%s", s.at, s.text, got[len(got)-1])
		}
	}
}

// A receiver failing for the period is paged through the watchdog's
// receiver, once, and resolved when it delivers again; the watchdog's own
// receiver failing pages no one.
func TestReceiverFailing(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	c := &clock{t0}
	b := &store.Batch{ProcessedAt: t0}
	for _, recv := range []string{"ops-slack", "ops-mail"} {
		b.Notifications = append(b.Notifications, store.Notification{ID: "n-" + recv, Receiver: recv, Rule: "r", CreatedAt: t0, Data: []byte(`{}`)})
	}
	if err := st.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	slackSeq, mailSeq := b.Notifications[0].Seq, b.Notifications[1].Seq
	w := watchdog.New(watchdog.Options{Source: st, Outbox: st, Receiver: "ops-mail", ReceiverFailingFor: 10 * time.Minute, Now: c.now})
	for _, seq := range []int64{slackSeq, mailSeq} {
		if err := st.Attempt(ctx, seq, t0.Add(time.Minute), "http 500 <b>down</b>"); err != nil {
			t.Fatal(err)
		}
	}
	c.t = t0.Add(5 * time.Minute)
	check(t, w)
	if got := pages(t, st, "ops-mail"); len(got) != 0 {
		t.Fatalf("failing 4m of 10m: pages %q", got)
	}
	c.t = t0.Add(11 * time.Minute)
	check(t, w)
	check(t, w)
	got := pages(t, st, "ops-mail")
	if len(got) != 1 || !strings.Contains(got[0], "Receiver ops-slack has been failing for 10m") || !strings.Contains(got[0], "http 500 <b>down</b>") {
		t.Fatalf("after 10m: pages %q, want one about ops-slack with its last error", got)
	}
	if n := len(pages(t, st, "ops-slack")); n != 0 {
		t.Errorf("%d watchdog pages through the failing receiver", n)
	}
	if err := st.Finish(ctx, store.Outcome{Seq: slackSeq, State: store.Sent, At: t0.Add(12 * time.Minute), Attempted: true}); err != nil {
		t.Fatal(err)
	}
	c.t = t0.Add(13 * time.Minute)
	check(t, w)
	got = pages(t, st, "ops-mail")
	if len(got) != 2 || !strings.Contains(got[1], "Resolved: receiver ops-slack delivers again") {
		t.Fatalf("after recovery: pages %q, want a resolved page", got)
	}
}
