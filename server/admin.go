package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// registerAdmin registers the admin surface on g, which carries the bearer
// token check. Every admin endpoint (reload, API, UI) belongs here: it is
// then served on admin.listen when that is set, and never on the callback
// listener.
func (s *Server) registerAdmin(g *gin.RouterGroup) {
	g.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.o.Gatherer, promhttp.HandlerOpts{})))
	g.POST("/-/reload", s.handleReload)
	if s.o.Deliveries != nil {
		g.GET("/api/v1/deliveries", s.handleDeliveries)
	}
	if s.o.Trace != nil {
		g.GET("/api/v1/events", s.handleEvents)
		g.GET("/api/v1/events/:id", s.handleEvent)
	}
	if s.o.Silences != nil {
		s.registerSilences(g)
	}
	registerPprof(g.Group("/debug/pprof"))
}

// registerPprof serves Go's profiles (net/http/pprof) behind the admin
// token: /debug/pprof/ lists them, /debug/pprof/profile?seconds=N takes a
// CPU profile of N seconds (default 30), /debug/pprof/trace an execution
// trace.
func registerPprof(g *gin.RouterGroup) {
	g.GET("/", gin.WrapF(pprof.Index))
	g.GET("/cmdline", gin.WrapF(pprof.Cmdline))
	g.GET("/profile", longWrite, gin.WrapF(pprof.Profile))
	g.GET("/symbol", gin.WrapF(pprof.Symbol))
	g.POST("/symbol", gin.WrapF(pprof.Symbol))
	g.GET("/trace", longWrite, gin.WrapF(pprof.Trace))
	for _, name := range []string{"allocs", "block", "goroutine", "heap", "mutex", "threadcreate"} {
		g.GET("/"+name, gin.WrapH(pprof.Handler(name)))
	}
}

// registerHealth registers the health endpoints, which answer without a
// token on every listener: load balancers and orchestrators probe them.
func (s *Server) registerHealth(e *gin.Engine) {
	e.GET("/-/healthy", func(c *gin.Context) { c.String(http.StatusOK, "OK\n") })
	e.GET("/-/ready", s.handleReady)
}

// requireToken checks "Authorization: Bearer <admin.token>" when a token is
// configured. Digests are compared in constant time; the answer never
// echoes what was sent.
func (s *Server) requireToken(c *gin.Context) {
	if s.adminToken == nil {
		c.Next()
		return
	}
	const prefix = "bearer "
	h := c.GetHeader("Authorization")
	ok := len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix)
	if ok {
		sum := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
		ok = subtle.ConstantTimeCompare(sum[:], s.adminToken) == 1
	}
	if !ok {
		s.sec.adminDenied.Inc()
		c.Header("WWW-Authenticate", `Bearer realm="imalert"`)
		fail(c, http.StatusUnauthorized, codeAdminToken, "admin token required")
		return
	}
	c.Next()
}

// newEngine returns a gin engine with imalert's common setup: panic
// recovery, client addresses taken from X-Forwarded-For only when the peer
// is a trusted proxy, and FAIL answers for unknown routes and methods.
func (s *Server) newEngine() *gin.Engine {
	e := gin.New()
	e.Use(s.recovery())
	// No proxy is trusted unless configured: c.ClientIP() is the peer.
	// The list was validated at config load; an error leaves none trusted.
	if err := e.SetTrustedProxies(s.o.TrustedProxies); err != nil {
		s.logger.Error("trusted proxies ignored", "err", err)
		_ = e.SetTrustedProxies(nil)
	}
	e.RemoteIPHeaders = []string{"X-Forwarded-For"}
	e.HandleMethodNotAllowed = true
	e.NoRoute(func(c *gin.Context) { fail(c, http.StatusNotFound, codeNotFound, "no such endpoint") })
	e.NoMethod(func(c *gin.Context) { fail(c, http.StatusMethodNotAllowed, codeMethod, "method not allowed") })
	return e
}

// longWrite lets a profile of ?seconds=N outlast server.write_timeout: the
// answer is written only at the end of the N seconds.
func longWrite(c *gin.Context) {
	secs, err := strconv.Atoi(c.DefaultQuery("seconds", "30"))
	if err != nil || secs < 1 {
		secs = 30
	}
	_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Now().Add(time.Duration(secs)*time.Second + 10*time.Second))
	c.Next()
}
