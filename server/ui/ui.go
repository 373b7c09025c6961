// Package ui is imalert's web UI under /ui/: server-rendered pages
// (html/template, assets embedded, no build step) that work without
// JavaScript; a small script only switches times between UTC and the
// browser's zone.
//
// Access is the admin token's: in an Authorization header, or through the
// login form, which sets an HttpOnly, SameSite=Strict session cookie. The
// one exception is a page's mute link (/ui/mute/{token}): its signed token
// is the authority, for creating its one silence. Every form carries a
// CSRF token bound to a per-browser cookie.
package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/mute"
	"github.com/imalert/imalert/alert/trace"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Store is what the UI reads and changes in the store.
type Store interface {
	Deliveries(ctx context.Context, f store.Filter) ([]store.Notification, error)
	Requeue(ctx context.Context, id string, at time.Time) (bool, error)
	ReceiversHealth(ctx context.Context) ([]store.ReceiverHealth, error)
	ActiveWindows(ctx context.Context, from, to time.Time, limit int) ([]store.Window, error)
	DecisionCounts(ctx context.Context, since time.Time) (map[string]map[string]int, error)
	OpenBudget(ctx context.Context, receiver string) (store.BudgetPeriod, error)
}

// TraceReader reads the decision trace.
type TraceReader interface {
	List(ctx context.Context, f trace.Filter) (trace.Page, error)
	Get(ctx context.Context, id int64) (trace.Event, error)
}

// Pipeline is the running pipeline: its rules and a dry run.
type Pipeline interface {
	Rules() *rules.Engine
	DryRun(ev *callback.Event) []alert.Outcome
}

// Waker is told when a requeued notification waits for its receiver.
type Waker interface {
	Wake(receiver string)
}

// Options configure the UI.
type Options struct {
	Logger *slog.Logger
	// Token is the admin token; empty leaves the UI open, as the admin
	// API is.
	Token    string
	Store    Store
	Trace    TraceReader
	Pipeline Pipeline
	Stats    *trace.Stats
	// Receivers are the configured receivers' names, for their health.
	Receivers map[string]bool
	Waker     Waker // optional
	Limits    callback.Limits
	// Budgets are the receivers' page budgets, by receiver: the overview
	// shows each one's open period.
	Budgets map[string]config.Budget
	// Silences, when set, serves /ui/silences and puts it in the menu.
	Silences Silencer
	// Mute, with Silences, verifies one-tap mute links at /ui/mute/.
	Mute *mute.Signer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// UI serves the pages.
type UI struct {
	o       Options
	mux     *http.ServeMux
	pages   map[string]*template.Template
	session []byte    // key of session cookies, derived from the token
	csrf    []byte    // key of CSRF tokens, random per process
	started time.Time // when the overview's counters started
}

// Cookie names. Both are HttpOnly, SameSite=Strict, Path=/ui/.
const (
	sessionCookie = "imalert_session"
	csrfCookie    = "imalert_csrf"
	sessionTTL    = 12 * time.Hour
	maxForm       = 256 << 10
)

// New returns the UI.
func New(o Options) *UI {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	u := &UI{o: o, mux: http.NewServeMux(), csrf: make([]byte, 32), started: o.Now()}
	_, _ = rand.Read(u.csrf)
	if o.Token != "" {
		m := hmac.New(sha256.New, []byte(o.Token))
		m.Write([]byte("imalert ui session"))
		u.session = m.Sum(nil)
	}
	u.pages = parsePages()
	static, _ := fs.Sub(assets, "static")
	u.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	u.mux.HandleFunc("GET /ui/login", u.loginForm)
	u.mux.HandleFunc("POST /ui/login", u.login)
	u.mux.HandleFunc("POST /ui/logout", u.auth(u.logout))
	u.mux.HandleFunc("GET /ui/{$}", u.auth(u.overview))
	u.mux.HandleFunc("GET /ui/events", u.auth(u.events))
	u.mux.HandleFunc("GET /ui/events/{id}", u.auth(u.event))
	u.mux.HandleFunc("GET /ui/deliveries", u.auth(u.deliveries))
	u.mux.HandleFunc("POST /ui/deliveries/requeue", u.auth(u.requeue))
	u.mux.HandleFunc("GET /ui/rules", u.auth(u.rules))
	u.mux.HandleFunc("POST /ui/rules/dry-run", u.auth(u.dryRun))
	if o.Silences != nil {
		u.mux.HandleFunc("GET /ui/silences", u.auth(u.silences))
		u.mux.HandleFunc("POST /ui/silences", u.auth(u.addSilence))
		u.mux.HandleFunc("POST /ui/silences/{id}/expire", u.auth(u.expireSilence))
		if o.Mute != nil {
			u.mux.HandleFunc("GET /ui/mute/{token}", u.muteForm)
			u.mux.HandleFunc("POST /ui/mute/{token}", u.mute)
		}
	}
	u.mux.HandleFunc("/ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	})
	return u
}

// ServeHTTP serves the UI with security headers on every answer.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	u.mux.ServeHTTP(w, r)
}

// authVia says how a request is authenticated.
type authVia int

const (
	authNone   authVia = iota
	authOpen           // no token configured
	authHeader         // Authorization: Bearer
	authCookie         // session cookie from the login form
)

func (u *UI) authenticate(r *http.Request) authVia {
	if u.o.Token == "" {
		return authOpen
	}
	const prefix = "bearer "
	if h := r.Header.Get("Authorization"); len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		if u.tokenOK(strings.TrimSpace(h[len(prefix):])) {
			return authHeader
		}
		return authNone
	}
	if c, err := r.Cookie(sessionCookie); err == nil && u.sessionOK(c.Value) {
		return authCookie
	}
	return authNone
}

func (u *UI) tokenOK(got string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(u.o.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// newSession returns a session cookie value valid until exp: the expiry
// and its MAC under a key derived from the token, so rotating the token
// ends every session.
func (u *UI) newSession(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	return e + "." + u.mac(u.session, e)
}

func (u *UI) sessionOK(v string) bool {
	e, sum, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil || u.o.Now().Unix() >= exp {
		return false
	}
	return hmac.Equal([]byte(sum), []byte(u.mac(u.session, e)))
}

func (u *UI) mac(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

// auth lets authenticated requests through; others go to the login form
// (GET) or get 401. State-changing requests must carry the CSRF token,
// unless authenticated by the Authorization header, which browsers never
// add on their own.
func (u *UI) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		via := u.authenticate(r)
		if via == authNone {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "admin token required", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && via != authHeader {
			if !u.csrfOK(w, r) {
				http.Error(w, "invalid or missing CSRF token: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		next(w, r)
	}
}

// csrfToken returns the CSRF token of the browser's CSRF cookie, setting
// the cookie when it has none.
func (u *UI) csrfToken(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(csrfCookie)
	v := ""
	if err == nil && len(c.Value) == 64 {
		v = c.Value
	} else {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		v = hex.EncodeToString(b)
		u.setCookie(w, r, csrfCookie, v, time.Time{})
	}
	return u.mac(u.csrf, v)
}

// csrfOK checks the form's token against the CSRF cookie, and the Origin
// header, when sent, against the host (as the client or a proxy in front
// names it: a cross-site form cannot set X-Forwarded-Host).
func (u *UI) csrfOK(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		o := strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")
		if o != r.Host && o != r.Header.Get("X-Forwarded-Host") {
			return false
		}
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) != 64 {
		return false
	}
	got := r.PostFormValue("csrf")
	return hmac.Equal([]byte(got), []byte(u.mac(u.csrf, c.Value)))
}

func (u *UI) setCookie(w http.ResponseWriter, r *http.Request, name, value string, exp time.Time) {
	c := &http.Cookie{Name: name, Value: value, Path: "/ui/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"}
	if !exp.IsZero() {
		c.Expires = exp
		c.MaxAge = int(time.Until(exp).Seconds())
		if value == "" {
			c.MaxAge = -1
		}
	}
	http.SetCookie(w, c)
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	if u.authenticate(r) != authNone {
		http.Redirect(w, r, "/ui/", http.StatusSeeOther)
		return
	}
	u.render(w, r, "login", "Log in", map[string]any{"Open": u.o.Token == ""})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if !u.csrfOK(w, r) {
		http.Error(w, "invalid or missing CSRF token: reload the page and try again", http.StatusForbidden)
		return
	}
	if u.o.Token == "" || !u.tokenOK(r.PostFormValue("token")) {
		u.renderStatus(w, r, http.StatusUnauthorized, "login", "Log in", map[string]any{"Failed": true, "Open": u.o.Token == ""})
		return
	}
	exp := u.o.Now().Add(sessionTTL)
	u.setCookie(w, r, sessionCookie, u.newSession(exp), exp)
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	u.setCookie(w, r, sessionCookie, "", time.Unix(1, 0))
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}
