package server

import (
	"context"
	"strings"
	"testing/synctest"

	"github.com/imalert/imalert/callback"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestDeduperMatchesModel drives the ring against a plain model (a FIFO of
// keys with their arrival times) through growth, wrap-around, expiry,
// eviction and claims settled as not taken.
func TestDeduperMatchesModel(t *testing.T) {
	for _, c := range []struct {
		name   string
		max    int
		keys   int
		window time.Duration
	}{
		{"small, evicting", 5, 12, time.Hour},
		{"grows past the first ring", 3000, 4000, time.Hour},
		{"compacts", 2000, 2500, time.Hour},
		{"expiring", 50, 80, 30 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(c.max)))
			evicted := 0
			d := newDeduper(c.window, c.max, func() { evicted++ })
			type held struct {
				key string
				at  time.Time
			}
			var model []held // oldest first
			modelEvicted := 0
			now := fixedNow
			for i := range 20_000 {
				now = now.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
				for len(model) > 0 && now.Sub(model[0].at) >= c.window {
					model = model[1:]
				}
				key := strconv.Itoa(rng.IntN(c.keys))
				inModel := -1
				for j, h := range model {
					if h.key == key {
						inModel = j
					}
				}
				sk, dup, err := d.Acquire(context.Background(), now, key)
				if err != nil {
					t.Fatal(err)
				}
				if dup != (inModel >= 0) {
					t.Fatalf("step %d: key %s duplicate %v, model says %v", i, key, dup, inModel >= 0)
				}
				if dup {
					continue
				}
				if len(model) == c.max {
					model = model[1:]
					modelEvicted++
				}
				taken := rng.IntN(4) > 0
				d.Settle([]*seenKey{sk}, taken)
				if taken {
					model = append(model, held{key, now})
				}
				if d.Len() > c.max {
					t.Fatalf("step %d: %d keys held, max %d", i, d.Len(), c.max)
				}
			}
			if evicted != modelEvicted {
				t.Fatalf("%d evictions counted, model %d", evicted, modelEvicted)
			}
			if len(d.ring) > 2*c.max {
				t.Fatalf("ring of %d slots for %d keys", len(d.ring), c.max)
			}
		})
	}
}

// Callbacks that arrive while the keys taken before a restart are read
// back wait for them, so a replay is still recognised; but only for
// restoreWait, since an answer too late for IM loses the alert.
func TestCallbacksWaitForRestoredKeys(t *testing.T) {
	const body = `{"GroupId":"g","From_Account":"u","Random":7,"EventTime":1670574414123,"ErrorCode":10023}`
	query := strings.Replace(sendQuery, "1400000000", strconv.Itoa(unsignedApp), 1)
	for _, c := range []struct {
		name      string
		restore   bool // the key is restored before restoreWait passes
		processed int
	}{
		{"restored in time: a duplicate", true, 0},
		{"restore too slow: taken without it", false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				x := newSecure(t, nil)
				done := x.s.RestoringKeys()
				answered := make(chan int)
				go func() { answered <- x.do(t, "POST", query, body, nil, "").Code }()
				synctest.Wait()
				select {
				case <-answered:
					t.Fatal("answered before the keys were restored")
				default:
				}
				if c.restore {
					x.s.Remember(callback.Raw{Query: strings.TrimPrefix(query, "/callback?"), Body: []byte(body), ReceivedAt: fixedNow})
					done()
				} else {
					time.Sleep(restoreWait)
				}
				if code := <-answered; code != 200 {
					t.Fatalf("answer %d, want 200", code)
				}
				if n := len(x.rec.events); n != c.processed {
					t.Errorf("%d events processed, want %d", n, c.processed)
				}
				done()
			})
		})
	}
}

// The wait is for the first half second after the restart, not half a
// second for each callback: past it, callbacks are answered at once even
// while the keys are still being read.
func TestCallbacksStopWaitingForSlowRestore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const body = `{"GroupId":"g","From_Account":"u","Random":8,"EventTime":1670574414123,"ErrorCode":10023}`
		query := strings.Replace(sendQuery, "1400000000", strconv.Itoa(unsignedApp), 1)
		x := newSecure(t, nil)
		done := x.s.RestoringKeys()
		defer done()
		time.Sleep(restoreWait)
		answered := make(chan int, 1)
		go func() { answered <- x.do(t, "POST", query, body, nil, "").Code }()
		synctest.Wait()
		select {
		case code := <-answered:
			if code != 200 {
				t.Fatalf("answer %d, want 200", code)
			}
		default:
			t.Fatal("a callback after the first half second waits for the keys")
		}
	})
}
