// Package server is imalert's HTTP front: the IM callback endpoint, health
// checks and metrics, on gin inside an http.Server with timeouts.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imalert/imalert/callback"
)

// Ingester takes an accepted callback for asynchronous processing: raw is
// the request as received (for the journal), ev its parse. It returns once
// the callback is durably taken and must not wait on any notification; an
// error means it was not taken and must not be acknowledged.
type Ingester interface {
	Ingest(ctx context.Context, raw callback.Raw, ev *callback.Event) error
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
	// Deliveries, when set, serves GET /api/v1/deliveries.
	Deliveries DeliveryLister
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server serves the callback endpoint.
type Server struct {
	o       Options
	logger  *slog.Logger
	engine  *gin.Engine
	apps    map[uint64]bool
	metrics *metrics
	ready   chan struct{}
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
		o.MaxBodyBytes = 1 << 20
	}
	if o.Gatherer == nil {
		o.Gatherer = prometheus.NewRegistry()
	}
	s := &Server{
		o:       o,
		logger:  o.Logger,
		apps:    make(map[uint64]bool, len(o.Apps)),
		metrics: newMetrics(o.Registerer),
		ready:   make(chan struct{}),
	}
	for _, id := range o.Apps {
		s.apps[id] = true
	}
	e := gin.New()
	e.Use(s.recovery())
	// No proxy is trusted unless configured: c.ClientIP() is the peer.
	_ = e.SetTrustedProxies(nil)
	e.HandleMethodNotAllowed = true
	e.POST(o.CallbackPath, s.handleCallback)
	e.GET("/-/healthy", func(c *gin.Context) { c.String(http.StatusOK, "OK\n") })
	e.GET("/-/ready", s.handleReady)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))
	if o.Deliveries != nil {
		e.GET("/api/v1/deliveries", s.handleDeliveries)
	}
	e.NoRoute(func(c *gin.Context) { fail(c, http.StatusNotFound, codeNotFound, "no such endpoint") })
	e.NoMethod(func(c *gin.Context) { fail(c, http.StatusMethodNotAllowed, codeMethod, "method not allowed") })
	s.engine = e
	return s
}

// Handler returns the HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.engine }

// Run serves on ln until ctx ends, then shuts down gracefully: it stops
// accepting, and waits up to ShutdownTimeout for requests in flight.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: s.o.ReadHeaderTimeout,
		ReadTimeout:       s.o.ReadTimeout,
		WriteTimeout:      s.o.WriteTimeout,
		IdleTimeout:       s.o.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	close(s.ready)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	timeout := s.o.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func (s *Server) handleReady(c *gin.Context) {
	select {
	case <-s.ready:
		c.String(http.StatusOK, "OK\n")
	default:
		c.String(http.StatusServiceUnavailable, "starting\n")
	}
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
