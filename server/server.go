// Package server is imalert's HTTP front: the IM callback endpoint, health
// checks and metrics, on gin inside an http.Server with timeouts.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/bodylimit"
)

// Ingester takes the events of an accepted callback request for
// asynchronous processing: raws as received (for the journal), evs their
// parse. It returns once they are durably taken, all or none, and must not
// wait on any notification; an error means they were not taken and the
// request must not be acknowledged.
type Ingester interface {
	Ingest(ctx context.Context, raws []callback.Raw, evs []*callback.Event) error
}

// Health reports a persistent failure of what the daemon cannot work
// without: nil while sound. *store.Store implements it.
type Health interface {
	Err() error
}

// Options configure a Server.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer

	Listen       string
	CallbackPath string
	Apps         []uint64
	MaxBodyBytes int64
	Limits       callback.Limits

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration

	Ingester Ingester
	// Reloader serves POST /-/reload; nil answers 404.
	Reloader Reloader
	// Deliveries, when set, serves GET /api/v1/deliveries.
	Deliveries DeliveryLister
	// Trace, when set, serves GET /api/v1/events and /api/v1/events/{id}.
	Trace TraceReader
	// UI, when set, is served under /ui/ on the admin listener. It checks
	// the admin token itself (header or login cookie).
	UI http.Handler
	// Silences, when set, serves /api/v1/silences.
	Silences Silencer
	// Health, when set, is asked by /-/ready: an error (a broken store)
	// makes it answer 503 with the reason.
	Health Health
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Admission and the admin surface (see admission.go, admin.go).

	// Verifiers holds the signature check of every app that requires one;
	// an app of Apps without a verifier accepts unsigned callbacks. nil:
	// no app requires one.
	Verifiers *Verifiers
	// TrustedProxies are the addresses (IPs or CIDRs) whose
	// X-Forwarded-For is believed; none by default.
	TrustedProxies []string
	// AllowNets, when set, are the only sources callbacks are taken from.
	AllowNets    []netip.Prefix
	RateLimit    RateLimit
	DedupWindow  time.Duration // 0: no de-duplication
	DedupMaxKeys int
	// AdminToken, when set, is the bearer token the admin surface requires.
	AdminToken string
	// SeparateAdmin serves the admin surface only on the admin listener of
	// RunWithAdmin; the callback listener then has the callback path and
	// health endpoints only.
	SeparateAdmin bool
	// TLSCertFile and TLSKeyFile, when set, make the callback listener
	// serve HTTPS.
	TLSCertFile, TLSKeyFile string
}

// Server serves the callback endpoint.
type Server struct {
	o       Options
	logger  *slog.Logger
	engine  *gin.Engine
	metrics *metrics
	ready   chan struct{}

	admin      *gin.Engine // the admin surface's own engine with SeparateAdmin
	adminToken []byte      // SHA-256 of Options.AdminToken
	sec        *securityMetrics
	limiter    *rateLimiter
	rejects    *rejectLog
	dedup      *deduper
	admission  Admission
	clock      callback.Clock // unique receive times: request ids
}

// Verifiers holds the signature checks of the apps, one per app that
// requires a signature. A reload replaces them while the server runs, so
// that a revoked token stops working at once.
type Verifiers struct {
	m atomic.Pointer[map[uint64]*callback.Verifier]
}

// NewVerifiers returns the checks m, keyed by SdkAppid.
func NewVerifiers(m map[uint64]*callback.Verifier) *Verifiers {
	v := &Verifiers{}
	v.Replace(m)
	return v
}

// Replace puts m in place of the current checks.
func (v *Verifiers) Replace(m map[uint64]*callback.Verifier) { v.m.Store(&m) }

// lookup returns the check of app, or nil when app accepts unsigned
// callbacks.
func (v *Verifiers) lookup(app uint64) *callback.Verifier {
	if v == nil {
		return nil
	}
	return (*v.m.Load())[app]
}

func init() {
	// gin prints debug warnings at engine creation unless in release mode.
	gin.SetMode(gin.ReleaseMode)
}

// New builds a Server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = bodylimit.DefaultMaxBodyBytes
	}
	if o.Gatherer == nil {
		o.Gatherer = prometheus.NewRegistry()
	}
	s := &Server{
		o:         o,
		logger:    o.Logger,
		admission: o.Admission(),
		metrics:   newMetrics(o.Registerer),
		ready:     make(chan struct{}),
	}
	if o.AdminToken != "" {
		sum := sha256.Sum256([]byte(o.AdminToken))
		s.adminToken = sum[:]
	}
	s.dedup = newDeduper(o.DedupWindow, o.DedupMaxKeys, func() { s.sec.dedupEvictions.Inc() })
	s.sec = newSecurityMetrics(o.Registerer, func() float64 { return float64(s.dedup.Len()) })
	s.limiter = newRateLimiter(o.RateLimit, s.sec.rateEvictions.Inc)
	s.rejects = newRejectLog(o.Logger, RejectLogEvery)

	e := s.newEngine()
	e.POST(o.CallbackPath, s.admit, s.handleCallback)
	s.registerHealth(e)
	admin := e
	if o.SeparateAdmin {
		admin = s.newEngine()
		s.registerHealth(admin)
		s.admin = admin
	}
	s.registerAdmin(admin.Group("/", s.requireToken))
	if o.UI != nil {
		admin.Any("/ui", gin.WrapH(o.UI))
		admin.Any("/ui/*path", gin.WrapH(o.UI))
	}
	s.engine = e
	return s
}

// Handler returns the HTTP handler of the callback listener, for tests and
// embedding.
func (s *Server) Handler() http.Handler { return s.engine }

// AdminHandler returns the HTTP handler of the admin listener: its own with
// SeparateAdmin, else the callback listener's.
func (s *Server) AdminHandler() http.Handler {
	if s.admin != nil {
		return s.admin
	}
	return s.engine
}

// Run serves on ln until ctx ends, then shuts down gracefully: it stops
// accepting, and waits up to ShutdownTimeout for requests in flight.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	return s.RunWithAdmin(ctx, ln, nil)
}

// RunWithAdmin is Run with the admin surface on its own listener, adminLn,
// which SeparateAdmin requires. The admin listener is plain HTTP: bind it
// to loopback or a private network.
func (s *Server) RunWithAdmin(ctx context.Context, ln, adminLn net.Listener) error {
	if s.o.SeparateAdmin != (adminLn != nil) {
		return errors.New("server: an admin listener is needed exactly when SeparateAdmin is set")
	}
	var tlsConfig *tls.Config
	if s.o.TLSCertFile != "" {
		r, err := newCertReloader(s.o.TLSCertFile, s.o.TLSKeyFile, s.o.Now, s.logger)
		if err != nil {
			return err
		}
		tlsConfig = r.config()
	}
	servers := []*http.Server{s.httpServer(s.engine, tlsConfig)}
	listeners := []net.Listener{ln}
	if adminLn != nil {
		servers = append(servers, s.httpServer(s.admin, nil))
		listeners = append(listeners, adminLn)
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			if srv.TLSConfig != nil {
				errc <- srv.ServeTLS(listeners[i], "", "")
				return
			}
			errc <- srv.Serve(listeners[i])
		}()
	}
	close(s.ready)
	var err error
	pending := len(servers)
	select {
	case err = <-errc:
		pending--
	case <-ctx.Done():
	}
	timeout := s.o.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, srv := range servers {
		if serr := srv.Shutdown(sctx); serr != nil && err == nil {
			err = serr
		}
	}
	for ; pending > 0; pending-- {
		if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) httpServer(h http.Handler, tlsConfig *tls.Config) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: s.o.ReadHeaderTimeout,
		ReadTimeout:       s.o.ReadTimeout,
		WriteTimeout:      s.o.WriteTimeout,
		IdleTimeout:       s.o.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
}

// RestoringKeys tells the server that the de-duplication keys of
// callbacks taken before a restart are being read back (Remember): until
// done is called /-/ready answers 503, and callbacks wait for them, for
// the first half second at most. Call it before serving.
func (s *Server) RestoringKeys() (done func()) {
	if !s.dedup.enabled() {
		return func() {}
	}
	return s.dedup.hold()
}

// handleReady answers 200 once serving, unless the store is broken: a
// callback would then be refused, and the orchestrator should know.
func (s *Server) handleReady(c *gin.Context) {
	select {
	case <-s.ready:
	default:
		c.String(http.StatusServiceUnavailable, "starting\n")
		return
	}
	if !s.dedup.restored() {
		c.String(http.StatusServiceUnavailable, "starting: restoring de-duplication keys\n")
		return
	}
	if s.o.Health != nil {
		if err := s.o.Health.Err(); err != nil {
			c.String(http.StatusServiceUnavailable, "not ready: %s\n", err.Error())
			return
		}
	}
	c.String(http.StatusOK, "OK\n")
}

// recovery answers 500 with the FAIL body and logs the panic, without
// dumping the request (it may carry secrets or payload).
func (s *Server) recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.logger.Error("handler panic", "path", c.FullPath(), "panic", r)
				if !c.Writer.Written() {
					fail(c, http.StatusInternalServerError, codeInternal, "internal error")
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}
