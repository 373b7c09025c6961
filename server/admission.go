package server

import (
	"container/list"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/bodylimit"
)

// RateLimit is a token bucket per source address.
type RateLimit struct {
	PerSecond  float64 // 0: no limit
	Burst      int     // 0: DefaultBurst(PerSecond)
	MaxSources int     // limiters kept; the least recently used is evicted; 0: DefaultMaxSources
}

// DefaultMaxSources is how many per-source limiters are kept when
// RateLimit sets no bound.
const DefaultMaxSources = 10_000

// DefaultDedupMaxKeys is how many de-duplication keys are held when
// Options set no bound.
const DefaultDedupMaxKeys = 100_000

// DefaultBurst is the burst of a rate limit that sets none: one second's
// worth of requests, at least one.
func DefaultBurst(perSecond float64) int { return max(1, int(math.Ceil(perSecond))) }

// FAIL answer codes of admission, authentication and admin checks.
const (
	codeSignMissing   = 40101
	codeSignInvalid   = 40102
	codeSignExpired   = 40103
	codeTimeInvalid   = 40104
	codeAdminToken    = 40110
	codeSourceDenied  = 40302
	codeAdminLoopback = 40303
	codeRateLimited   = 42901
)

// securityMetrics count what admission turned away or held back.
type securityMetrics struct {
	authFailures   *prometheus.CounterVec
	duplicates     prometheus.Counter
	dedupEvictions prometheus.Counter
	dedupKeys      prometheus.GaugeFunc
	rateLimited    prometheus.Counter
	rateEvictions  prometheus.Counter
	denied         prometheus.Counter
	adminDenied    prometheus.Counter
	leftOut        *prometheus.CounterVec
	// leftOut's three series, looked up once: every request counts them.
	leftOutElements, leftOutFields, leftOutEvents prometheus.Counter
}

func newSecurityMetrics(r prometheus.Registerer, dedupLen func() float64) *securityMetrics {
	m := &securityMetrics{
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_callback_auth_failures_total",
			Help: "Callbacks refused by the signature check, by reason.",
		}, []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_callback_duplicates_total",
			Help: "Callback events acknowledged but not processed again: a retry or replay inside callback.dedup_window.",
		}),
		dedupEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_callback_dedup_evictions_total",
			Help: "De-duplication keys evicted before their window ended to stay under callback.dedup_max_keys.",
		}),
		dedupKeys: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "imalert_callback_dedup_keys",
			Help: "De-duplication keys held.",
		}, dedupLen),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_callback_rate_limited_total",
			Help: "Callback requests answered 429 by the per-source rate limit.",
		}),
		rateEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_callback_rate_limit_evictions_total",
			Help: "Per-source rate limiters evicted to stay under callback.rate_limit.max_sources.",
		}),
		denied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_callback_source_denied_total",
			Help: "Callback requests refused because their source address is outside callback.allow_cidrs.",
		}),
		adminDenied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_admin_auth_failures_total",
			Help: "Admin requests refused: a missing or wrong bearer token or, without admin.token, a client not on loopback.",
		}),
		leftOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_callback_left_out_total",
			Help: "Parts of accepted callback bodies left out by callback.limits, by what: elements, fields, events.",
		}, []string{"what"}),
	}
	m.leftOutElements = m.leftOut.WithLabelValues("elements")
	m.leftOutFields = m.leftOut.WithLabelValues("fields")
	m.leftOutEvents = m.leftOut.WithLabelValues("events")
	if r != nil {
		r.MustRegister(m.authFailures, m.duplicates, m.dedupEvictions, m.dedupKeys, m.rateLimited,
			m.rateEvictions, m.denied, m.adminDenied, m.leftOut)
	}
	return m
}

// countLeftOut counts what the limits cut from one request's events. A
// batch's left-out events are recorded on each event kept, so they are
// counted once.
func (m *securityMetrics) countLeftOut(items []callback.Item) {
	for i, it := range items {
		lo := it.Event.LeftOut
		if lo.Elements > 0 {
			m.leftOutElements.Add(float64(lo.Elements))
		}
		if lo.Fields > 0 {
			m.leftOutFields.Add(float64(lo.Fields))
		}
		if i == 0 && lo.Events > 0 {
			m.leftOutEvents.Add(float64(lo.Events))
		}
	}
}

// admit runs before the callback handler: the source address must be
// allowed and within its rate. It reads nothing of the request but its
// peer address (or, from a trusted proxy, X-Forwarded-For).
func (s *Server) admit(c *gin.Context) {
	if len(s.o.AllowNets) == 0 && s.limiter == nil {
		c.Next()
		return
	}
	ip, _ := netip.ParseAddr(c.ClientIP())
	ip = ip.Unmap()
	if len(s.o.AllowNets) > 0 && !allowed(s.o.AllowNets, ip) {
		s.sec.denied.Inc()
		s.metrics.requests.WithLabelValues("source_denied").Inc()
		s.refuseWith(c, "source_denied", http.StatusForbidden, codeSourceDenied, "source address not allowed")
		return
	}
	if s.limiter != nil {
		if ok, wait := s.limiter.Allow(s.o.Now(), ip); !ok {
			s.sec.rateLimited.Inc()
			s.metrics.requests.WithLabelValues("rate_limited").Inc()
			c.Header("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
			s.refuseWith(c, "rate_limited", http.StatusTooManyRequests, codeRateLimited, "rate limit exceeded, retry later")
			return
		}
	}
	c.Next()
}

func allowed(nets []netip.Prefix, ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Admission is what the callback endpoint checks of a request's query and
// body, apart from its source, rate and signature: the envelope, the app,
// the body's size and shape. The server runs it on every callback, and a
// dry run (imalert test) runs the same checks on recorded callbacks.
type Admission struct {
	Apps         map[uint64]bool // the apps whose callbacks are taken
	MaxBodyBytes int64
	Limits       callback.Limits
}

// Admission returns the checks of a callback that a server with options o
// runs.
func (o Options) Admission() Admission {
	a := Admission{Apps: make(map[uint64]bool, len(o.Apps)), MaxBodyBytes: o.MaxBodyBytes, Limits: o.Limits}
	if a.MaxBodyBytes <= 0 {
		a.MaxBodyBytes = bodylimit.DefaultMaxBodyBytes
	}
	for _, id := range o.Apps {
		a.Apps[id] = true
	}
	return a
}

// Refusal is the FAIL answer to a callback the server does not take.
type Refusal struct {
	Status int    // HTTP status
	Code   int    // ErrorCode of the answer
	Info   string // ErrorInfo of the answer
	Result string // the result label of imalert_callback_requests_total
}

func (r *Refusal) Error() string { return r.Info }

// Envelope reads the query of a callback and checks that it comes from a
// known app.
func (a Admission) Envelope(query url.Values) (callback.Query, *Refusal) {
	q, err := callback.ParseQuery(query)
	if err != nil {
		return q, &Refusal{http.StatusBadRequest, codeBadQuery, err.Error(), "bad_query"}
	}
	if !a.Apps[q.AppID] {
		return q, &Refusal{http.StatusForbidden, codeUnknownApp, "unknown SdkAppid " + strconv.FormatUint(q.AppID, 10) + ": not an app of this receiver", "unknown_app"}
	}
	return q, nil
}

// TooLarge is the refusal of a body over MaxBodyBytes.
func (a Admission) TooLarge() *Refusal {
	return &Refusal{http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("body larger than %d bytes", a.MaxBodyBytes), "too_large"}
}

// Events parses the body of a callback with query q into its events.
func (a Admission) Events(q callback.Query, body []byte) ([]callback.Item, *Refusal) {
	if int64(len(body)) > a.MaxBodyBytes {
		return nil, a.TooLarge()
	}
	items, err := callback.ParseEvents(q, body, a.Limits)
	if err != nil {
		return nil, &Refusal{http.StatusBadRequest, codeBadBody, err.Error(), "bad_body"}
	}
	return items, nil
}

// authReasons maps a failed signature check to its FAIL answer.
var authReasons = map[callback.AuthReason]struct {
	code int
	info string
}{
	callback.AuthMissingSign:   {codeSignMissing, "callback authentication required: Sign missing"},
	callback.AuthMissingTime:   {codeSignMissing, "callback authentication required: RequestTime missing"},
	callback.AuthMalformedSign: {codeSignInvalid, "Sign is not 64 hex digits"},
	callback.AuthMismatch:      {codeSignInvalid, "Sign does not match"},
	callback.AuthNoTokens:      {codeSignInvalid, "Sign does not match"},
	callback.AuthMalformedTime: {codeTimeInvalid, "RequestTime is not decimal Unix seconds"},
	callback.AuthStale:         {codeSignExpired, "RequestTime outside the freshness window (too old)"},
	callback.AuthFuture:        {codeSignExpired, "RequestTime outside the freshness window (in the future)"},
}

// authenticate checks the signature of a callback for an app that
// requires one. It answers 401 and returns false on failure.
func (s *Server) authenticate(c *gin.Context, q callback.Query) bool {
	v := s.o.Verifiers.lookup(q.AppID)
	if v == nil {
		return true
	}
	reason := v.Verify(s.o.Now(), q.Sign, q.RequestTime)
	if reason == callback.AuthOK {
		return true
	}
	s.sec.authFailures.WithLabelValues(string(reason)).Inc()
	a := authReasons[reason]
	s.refuseWith(c, string(reason), http.StatusUnauthorized, a.code, a.info)
	return false
}

// rateLimiter keeps a token bucket per source: per address for IPv4, per
// /64 for IPv6 (one host owns a whole /64). At most max buckets are kept;
// the least recently used goes first, and every eviction is counted.
type rateLimiter struct {
	limit rate.Limit
	burst int
	max   int
	evict func()

	mu    sync.Mutex
	byKey map[netip.Addr]*list.Element
	lru   *list.List // of *bucket, most recent at the front
}

type bucket struct {
	key netip.Addr
	lim *rate.Limiter
}

func newRateLimiter(o RateLimit, evict func()) *rateLimiter {
	if o.PerSecond <= 0 {
		return nil
	}
	if o.Burst < 1 {
		o.Burst = DefaultBurst(o.PerSecond)
	}
	if o.MaxSources < 1 {
		o.MaxSources = DefaultMaxSources
	}
	return &rateLimiter{
		limit: rate.Limit(o.PerSecond), burst: o.Burst, max: o.MaxSources, evict: evict,
		byKey: make(map[netip.Addr]*list.Element), lru: list.New(),
	}
}

// Allow takes one token for ip at now. When none is left it reports how
// long until one is.
func (r *rateLimiter) Allow(now time.Time, ip netip.Addr) (bool, time.Duration) {
	key := ip
	if ip.Is6() {
		key = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var b *bucket
	if e, ok := r.byKey[key]; ok {
		r.lru.MoveToFront(e)
		b = e.Value.(*bucket)
	} else {
		for r.lru.Len() >= r.max {
			old := r.lru.Back()
			r.lru.Remove(old)
			delete(r.byKey, old.Value.(*bucket).key)
			r.evict()
		}
		b = &bucket{key: key, lim: rate.NewLimiter(r.limit, r.burst)}
		r.byKey[key] = r.lru.PushFront(b)
	}
	res := b.lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len returns the number of buckets held.
func (r *rateLimiter) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lru.Len()
}

// DedupReason names the de-duplication decision for one event.
type DedupReason string

// De-duplication outcomes.
const (
	DedupFirst     DedupReason = "first"     // not seen inside the window: process it
	DedupDuplicate DedupReason = "duplicate" // seen inside the window: acknowledge only
	DedupOff       DedupReason = "off"       // de-duplication disabled
)

func (d *deduper) enabled() bool { return d != nil && d.window > 0 }
