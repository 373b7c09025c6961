package silence_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/alert/state/redisstate"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/internal/yamlfile"
	"github.com/imalert/imalert/store"
)

// openShared opens a replica's silences on the Redis at addr.
func openShared(t *testing.T, addr string) *silence.Set {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c := config.State{Backend: config.StateRedis, Redis: config.Redis{Addr: addr, KeyPrefix: "t:", Timeout: yamlfile.Duration(2 * time.Second)}}
	states, closeFn, err := redisstate.Open(ctx, c, redisstate.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	s, err := silence.Open(ctx, silence.Options{Store: st, Shared: redisstate.SharedSilences(states)})
	if err != nil {
		t.Fatal(err)
	}
	watchCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.Watch(watchCtx) }()
	t.Cleanup(func() { stop(); <-done })
	return s
}

// waitState polls s until silence id is in state want.
func waitState(t *testing.T, s *silence.Set, id string, want silence.State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, v := range s.List() {
			if v.ID == id && v.State == want {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("silence %s never %s on the other replica: %+v", id, want, s.List())
}

// A silence added on one replica holds on another, which takes it in
// while it matches events; expired on the second, it ends on the first.
func TestSharedAcrossSets(t *testing.T) {
	srv := testutil.StartRedis(t)
	a, b := openShared(t, srv.Addr), openShared(t, srv.Addr)
	ev := &callback.Event{GroupID: "@TGS#1", ErrorCode: 10023, Present: callback.FieldErrorCode, ReceivedAt: time.Now()}
	stop := make(chan struct{})
	matched := make(chan int)
	go func() { // the pipeline matching meanwhile
		n := 0
		for {
			select {
			case <-stop:
				matched <- n
				return
			default:
				n += len(b.Matching(ev, nil))
			}
		}
	}()
	made, err := a.Add(context.Background(), silence.Request{Matchers: json.RawMessage(`{"error_code": [10023]}`), Duration: "1h", Author: "ana", Comment: "review"})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, b, made.ID, silence.Active)
	ev2 := &callback.Event{GroupID: "@TGS#1", ErrorCode: 10023, Present: callback.FieldErrorCode, ReceivedAt: time.Now()}
	if ids := b.Matching(ev2, nil); len(ids) != 1 || ids[0] != made.ID {
		t.Errorf("Matching on B = %v, want [%s]", ids, made.ID)
	}
	close(stop)
	<-matched
	if _, err := b.Expire(context.Background(), made.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, made.ID, silence.Expired)
	if ids := a.Matching(&callback.Event{GroupID: "@TGS#1", ErrorCode: 10023, Present: callback.FieldErrorCode, ReceivedAt: time.Now()}, nil); len(ids) != 0 {
		t.Errorf("Matching on A after the expiry on B = %v, want none", ids)
	}
}

// A replica that wins a silence's end claim and dies before its batch is
// committed never confirms it: the other replica waits, then, once the
// claim's lease lapses, reports the end with the count; once that is
// confirmed, the first replica, asking again, sends nothing.
func TestSharedEndClaimLapses(t *testing.T) {
	ctx := context.Background()
	srv := testutil.StartRedis(t)
	a, b := openShared(t, srv.Addr), openShared(t, srv.Addr)
	made, err := a.Add(ctx, silence.Request{Matchers: json.RawMessage(`{"error_code": [10023]}`), Duration: "1h", Author: "ana", Comment: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, b, made.ID, silence.Active)
	var held silence.Tally
	held.Hold([]string{made.ID}, &callback.Event{GroupID: "@TGS#1", ErrorCode: 10023, Present: callback.FieldErrorCode, ReceivedAt: time.Now()}, nil)
	a.Apply(a.Stage(&held, time.Now()))

	due := time.Now().Add(2 * time.Hour)
	if sa := a.Stage(&silence.Tally{}, due); len(sa.Ended) != 1 || sa.Ended[0].Events != 1 {
		t.Fatalf("A's end notice %+v, want one of 1 event", sa.Ended)
	} // and A dies: its batch is never committed, its claim never confirmed
	sb := b.Stage(&silence.Tally{}, due)
	if len(sb.Ended) != 0 || noticed(sb, made.ID) {
		t.Fatalf("B while A's claim runs: notices %+v, noticed %v; want it to wait", sb.Ended, noticed(sb, made.ID))
	}

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	if n, err := rdb.Del(ctx, "t:sil:end:"+made.ID).Result(); err != nil || n != 1 {
		t.Fatalf("lapsing the claim: %d, %v", n, err)
	}
	sb = b.Stage(&silence.Tally{}, due)
	if len(sb.Ended) != 1 || sb.Ended[0].Events != 1 || !noticed(sb, made.ID) {
		t.Fatalf("B once the lease lapsed: notices %+v; want one of 1 event", sb.Ended)
	}
	b.Apply(sb)
	if sa := a.Stage(&silence.Tally{}, due); len(sa.Ended) != 0 || !noticed(sa, made.ID) {
		t.Errorf("A back: notices %+v, noticed %v; want it noticed without a page", sa.Ended, noticed(sa, made.ID))
	}
}

func noticed(sg *silence.Staged, id string) bool {
	for _, u := range sg.Updates {
		if u.ID == id && u.Noticed {
			return true
		}
	}
	return false
}
