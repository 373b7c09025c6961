package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
)

// go test ./server -run '^$' -bench . -benchmem
//
// BenchmarkCallback is one signed callback through the whole handler
// (admission with allowlist and rate limit, signature, parse,
// de-duplication) into an ingester that keeps nothing.

type discard struct{}

func (discard) Ingest(context.Context, []callback.Raw, []*callback.Event) error { return nil }

func BenchmarkCallback(b *testing.B) {
	doc, err := os.ReadFile("../callback/testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts func(*Options)
	}{
		{"unsigned", func(o *Options) { o.Verifiers = nil; o.DedupWindow = 0 }},
		{"signed+dedup", nil},
		{"signed+dedup+allowlist+ratelimit", func(o *Options) {
			o.AllowNets = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
			o.RateLimit = RateLimit{PerSecond: 1e9, Burst: 1 << 30, MaxSources: 10_000}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			x := newSecure(b, c.opts)
			x.s.o.Ingester = discard{}
			q := signedQuery(signedApp, callback.CommandSendMsgException, tokenNow, fixedNow)
			i := 0
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				i++
				// A distinct event each time, so de-duplication keeps keys.
				body := strings.Replace(string(doc), "123456", strconv.Itoa(i), 1)
				req := httptest.NewRequest(http.MethodPost, q, strings.NewReader(body))
				req.RemoteAddr = "192.0.2.1:1234"
				w := httptest.NewRecorder()
				x.s.Handler().ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

func BenchmarkDedupClaim(b *testing.B) {
	d := newDeduper(5*time.Minute, 100_000, func() {})
	now := fixedNow
	i := 0
	for b.Loop() {
		i++
		d.Claim(now, strconv.Itoa(i)) // full after 100k: every claim evicts
	}
}

func BenchmarkRateLimiterAllow(b *testing.B) {
	r := newRateLimiter(RateLimit{PerSecond: 1e9, Burst: 1 << 30, MaxSources: 10_000}, func() {})
	addrs := make([]netip.Addr, 20_000) // twice max_sources: constant eviction
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	i := 0
	for b.Loop() {
		i++
		r.Allow(fixedNow, addrs[i%len(addrs)])
	}
}

// BenchmarkDedupHeld reports the heap held per de-duplication key, with
// the default 100,000 keys all held.
func BenchmarkDedupHeld(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		d := newDeduper(5*time.Minute, DefaultDedupMaxKeys, func() {})
		for i := range DefaultDedupMaxKeys {
			d.Claim(fixedNow, strconv.Itoa(i))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(d.Len()), "bytes/key")
		runtime.KeepAlive(d)
	}
}
