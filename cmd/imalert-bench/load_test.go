package main

import (
	"context"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
)

// The generated traffic is what the daemon accepts: signed with the token,
// parseable, every request a distinct event, and in the storm's mix.
func TestMix(t *testing.T) {
	m := &mix{groups: 1000, senders: 5000, token: "bench-token"}
	v := callback.NewVerifier([]string{m.token}, time.Minute)
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Unix(1_700_000_000, 0)
	const n = 5000
	keys := map[string]bool{}
	storm := 0
	for range n {
		q, body := m.next(r, now)
		vals, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		env, err := callback.ParseQuery(vals)
		if err != nil {
			t.Fatalf("query %q: %v", q, err)
		}
		if got := v.Verify(now, env.Sign, env.RequestTime); got != callback.AuthOK {
			t.Fatalf("signature: %v", got)
		}
		items, err := callback.ParseEvents(env, body, callback.Limits{})
		if err != nil || len(items) != 1 {
			t.Fatalf("body %s: %d items, %v", body, len(items), err)
		}
		ev := items[0].Event
		keys[callback.DedupKey(ev, items[0].Body)] = true
		if ev.Command == callback.CommandSendMsgException && ev.ErrorCode == 10023 {
			storm++
		}
	}
	if len(keys) != n {
		t.Errorf("%d distinct events in %d requests", len(keys), n)
	}
	if share := float64(storm) / n; share < 0.77 || share > 0.83 {
		t.Errorf("10023 share %.2f, want about 0.80", share)
	}
}

// The schedule releases due times exactly one interval apart, never ahead
// of time, and closes its channel when the run ends.
func TestSchedule(t *testing.T) {
	const rate = 2000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	due := make(chan time.Time, rate)
	start := time.Now()
	go schedule(ctx, due, rate)
	var prev time.Time
	n := 0
	for d := range due { // ends only when schedule closes it
		if now := time.Now(); now.Before(d) {
			t.Fatalf("due time %v released %v early", d, d.Sub(now))
		}
		if n == 0 && d.Before(start) {
			t.Fatalf("first due time %v before the start %v", d, start)
		}
		if n > 0 && d.Sub(prev) != time.Second/rate {
			t.Fatalf("due time %d is %v after the one before, want %v", n, d.Sub(prev), time.Second/rate)
		}
		prev = d
		if n++; n == 20 {
			cancel()
		}
	}
	if n < 20 {
		t.Fatalf("%d due times released, want at least 20", n)
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0, 1}, {.5, 6}, {.99, 10}, {1, 10}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, .5); got != 0 {
		t.Errorf("percentile of none = %v, want 0", got)
	}
}
