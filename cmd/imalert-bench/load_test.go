package main

import (
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
