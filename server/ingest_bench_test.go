package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/console"
	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// memIngester is ingest without the journal: the in-memory hand-off the
// daemon had before, an event channel drained by one goroutine. It is the
// baseline the journal's cost is measured against.
type memIngester struct{ ch chan *callback.Event }

func (m *memIngester) Ingest(_ context.Context, _ []callback.Raw, evs []*callback.Event) error {
	for _, ev := range evs {
		select {
		case m.ch <- ev:
		default:
			return fmt.Errorf("backlog full")
		}
	}
	return nil
}

// BenchmarkIngest measures callback ingest through real HTTP on loopback,
// many concurrent clients, with the journal off (in-memory hand-off) and
// on (SQLite WAL, group commit) in both sync modes, with the pipeline and
// delivery (console to io.Discard) running behind it as in the daemon. It
// reports requests per second and the answer's p50 and p99.
//
//	go test -run '^$' -bench Ingest -benchtime 20000x ./server/
func BenchmarkIngest(b *testing.B) {
	for _, mode := range []string{"off", store.SyncNormal, store.SyncFull} {
		b.Run("journal="+mode, func(b *testing.B) {
			ing, stop := benchIngester(b, mode)
			defer stop()
			s := New(Options{Registerer: prometheus.NewRegistry(), CallbackPath: "/callback", Apps: []uint64{appID}, Ingester: ing})
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
			url := srv.URL + sendQuery
			var seq atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(32) // 32 × GOMAXPROCS concurrent callers, as IM's fan-out
			b.ResetTimer()
			cpu0 := cpuTime()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					i := seq.Add(1)
					body := fmt.Sprintf(`{"CallbackCommand":"Group.CallbackSendMsgException","GroupId":"@TGS#%d","Type":"Public","From_Account":"u%d","ErrorCode":10023,"ErrorInfo":"rate limited","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello %d"}}]}`, i%500, i%50, i)
					t0 := time.Now()
					resp, err := client.Post(url, "application/json", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			if len(lat) == 0 {
				return
			}
			slices.Sort(lat)
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
			// CPU per request (client, server, journal, pipeline and
			// delivery together) holds steady on a busy machine, where
			// wall-clock figures do not.
			b.ReportMetric(float64(cpu.Microseconds())/float64(len(lat)), "cpu_us/req")
			b.ReportMetric(0, "ns/op") // per-request time is in p50/p99
		})
	}
}

// cpuTime returns the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchIngester(b *testing.B, mode string) (Ingester, func()) {
	b.Helper()
	if mode == "off" {
		m := &memIngester{ch: make(chan *callback.Event, 1<<16)}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range m.ch {
			}
		}()
		return m, func() { close(m.ch); <-done }
	}
	st, err := store.Open(context.Background(), store.Options{Dir: b.TempDir(), Sync: mode, Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	engine, err := rules.Compile(rules.Default(), rules.Options{Receivers: map[string]bool{"console": true}})
	if err != nil {
		b.Fatal(err)
	}
	d := delivery.NewDispatcher(delivery.DispatcherOptions{Store: st, Destinations: []delivery.Destination{{Name: "console", Notifier: console.New(io.Discard)}}})
	p := alert.NewPipeline(alert.PipelineOptions{Rules: engine, Store: st, Out: d})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.Run(ctx) }()
	go func() { defer wg.Done(); d.Run(ctx) }()
	return p, func() {
		cancel()
		wg.Wait()
		_ = st.Close()
	}
}
