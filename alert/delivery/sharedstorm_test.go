package delivery_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/state/redisstate"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/internal/yamlfile"
	"github.com/imalert/imalert/store"
)

func sharedBudgets(t *testing.T, addr string) delivery.SharedBudgets {
	t.Helper()
	c := config.State{Backend: config.StateRedis, OnRedisError: config.FailClosed,
		Redis: config.Redis{Addr: addr, KeyPrefix: "t:", Timeout: yamlfile.Duration(2 * time.Second)}}
	st, closeFn, err := redisstate.Open(context.Background(), c, redisstate.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	return redisstate.SharedBudgets(st)
}

// Two replicas hold pages over one shared budget; a third process claims
// the period's storm page and dies without sending it. The two close
// their periods and wait; once the claim's lease lapses, one of them
// sends the one storm page, for the pages held on both.
func TestSharedStormTakenOver(t *testing.T) {
	srv := testutil.StartRedis(t)
	rule := strings.ReplaceAll(perGroupRule, "[slack]", "[hook]")
	const per = 2 * time.Second
	var rigs []*rig
	var fakes []*fake
	for range 2 {
		f := &fake{}
		d := dest("hook", f, 0, delivery.Retry{}, time.Second)
		d.Budget = delivery.Budget{Pages: 1, Per: per}
		r := newRigWith(t, openStore(t), rule, sharedBudgets(t, srv.Addr), d)
		r.start()
		rigs, fakes = append(rigs, r), append(fakes, f)
	}
	for i := range 4 {
		rigs[i%2].ingest(10023, "g"+strconv.Itoa(i), i)
	}
	held := func() bool { return rigs[0].states("hook")[store.Held]+rigs[1].states("hook")[store.Held] == 3 }
	await(t, "1 sent, 3 held", 10*time.Second, held)

	dead := sharedBudgets(t, srv.Addr)
	ctx := context.Background()
	start, err := dead.Period(ctx, "hook", time.Now(), per)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := dead.ClaimStorm(ctx, "hook", start); err != nil || c != delivery.StormWon {
		t.Fatalf("the dying claim: %v, %v", c, err)
	}
	closed := func() bool { return rigs[0].states("hook")[store.Held]+rigs[1].states("hook")[store.Held] == 0 }
	await(t, "both periods closed", 10*time.Second, closed)
	if s := storms(fakes); len(s) != 0 {
		t.Fatalf("%d storm pages while the claim's lease runs", len(s))
	}

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "t:bud:hook:*:storm").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("claim keys %v, %v", keys, err)
	}
	rdb.Del(ctx, keys[0]) // the lease lapses
	await(t, "the storm page", 30*time.Second, func() bool { return len(storms(fakes)) > 0 })
	if v, err := rdb.Get(ctx, keys[0]).Result(); err != nil || v != "sent" {
		t.Errorf("claim after the storm page: %q, %v; want it marked sent, for the other replica", v, err)
	}
	s := storms(fakes)
	if len(s) != 1 || s[0].Held != 3 || s[0].Sent != 1 || s[0].ByRule["r"] != 3 || s[0].Digest.Total != 3 {
		t.Errorf("storm pages %+v, want one of 3 held after 1 sent", s)
	}
}

func storms(fakes []*fake) []*notify.Storm {
	var out []*notify.Storm
	for _, f := range fakes {
		for _, n := range f.delivered() {
			if n.Storm != nil {
				out = append(out, n.Storm)
			}
		}
	}
	return out
}

// A page counted in a shared budget and given up (a dead letter) gives
// its place back: with a budget of 2, a page refused for good and two
// more send both, and hold none.
func TestSharedBudgetDeadLetterGivesBack(t *testing.T) {
	srv := testutil.StartRedis(t)
	rule := strings.ReplaceAll(perGroupRule, "[slack]", "[hook]")
	f := &fake{}
	f.fail(status(400))
	d := dest("hook", f, 0, delivery.Retry{}, time.Second)
	d.Budget = delivery.Budget{Pages: 2, Per: time.Hour}
	r := newRigWith(t, openStore(t), rule, sharedBudgets(t, srv.Addr), d)
	for i := range 3 {
		r.ingest(10023, "g"+strconv.Itoa(i), i)
	}
	r.start()
	await(t, "1 dead, 2 sent", 10*time.Second, r.settled("hook", map[store.State]int{store.Dead: 1, store.Sent: 2}))
	_, sent, err := sharedBudgets(t, srv.Addr).Held(context.Background(), "hook", periodStart(t, srv.Addr))
	if err != nil || sent != 2 {
		t.Errorf("shared count %d, %v; want 2", sent, err)
	}
}

// periodStart reads the start of the open period of receiver hook.
func periodStart(t *testing.T, addr string) time.Time {
	t.Helper()
	start, err := sharedBudgets(t, addr).Period(context.Background(), "hook", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return start
}
