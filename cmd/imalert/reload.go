package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/yamlfile"
)

// Reload triggers, the values of the trigger label.
const (
	triggerSignal = "signal"
	triggerWatch  = "watch"
	triggerAPI    = "api"
)

// reloadDebounce is how long the watcher waits after the last change
// before reloading: editors and config managers write a file in several
// steps.
const reloadDebounce = 300 * time.Millisecond

// reloader reloads the config file's rule files and codes into the running
// pipeline. The new rule set is compiled beside the running one and swapped
// in only when everything in it is valid; otherwise the running rules stay
// and the reload reports why. Receivers, apps and listeners are set up at
// start and change only with a restart.
type reloader struct {
	path      string // config file; "" for the built-in config
	logger    *slog.Logger
	pipeline  *alert.Pipeline
	receivers map[string]bool
	apps      []uint64
	metrics   reloadMetrics

	mu       sync.Mutex
	patterns []string       // rule_files of the config last loaded
	cfg      *config.Config // the config last loaded

	// setVerifiers, when set, applies the apps' tokens of a reloaded
	// config, so that rotating or revoking a token needs no restart.
	setVerifiers func(map[uint64]*callback.Verifier)
}

type reloadMetrics struct {
	success     prometheus.Gauge
	successTime prometheus.Gauge
	reloads     *prometheus.CounterVec
	rules       prometheus.Gauge
}

type reloaderOptions struct {
	Path       string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Pipeline   *alert.Pipeline
	// Setup is what serve started with.
	Setup *setup
}

func newReloader(o reloaderOptions) *reloader {
	r := &reloader{
		path:      o.Path,
		logger:    o.Logger,
		pipeline:  o.Pipeline,
		receivers: o.Setup.cfg.ReceiverNames(),
		apps:      o.Setup.cfg.AppIDs(),
		patterns:  o.Setup.cfg.RuleFiles,
		cfg:       o.Setup.cfg,
		metrics: reloadMetrics{
			success: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "imalert_config_last_reload_successful", Help: "Whether the last reload of the rules succeeded (1) or kept the running rules (0).",
			}),
			successTime: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "imalert_config_last_reload_success_timestamp_seconds", Help: "When the rules last loaded successfully, at start or by a reload.",
			}),
			reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
				Name: "imalert_config_reloads_total", Help: "Reloads of the rules, by trigger (signal, watch, api) and result (success, failure).",
			}, []string{"trigger", "result"}),
			rules: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "imalert_rules_loaded", Help: "Rules in the running rule set.",
			}),
		},
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	m := r.metrics
	if o.Registerer != nil {
		o.Registerer.MustRegister(m.success, m.successTime, m.reloads, m.rules)
	}
	m.success.Set(1)
	m.successTime.SetToCurrentTime()
	m.rules.Set(float64(len(o.Setup.rules.Rules())))
	return r
}

// Reload implements server.Reloader for POST /-/reload.
func (r *reloader) Reload(context.Context) error { return r.reload(triggerAPI) }

func (r *reloader) reload(trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.swap()
	result := "success"
	if err != nil {
		result = "failure"
		r.metrics.success.Set(0)
		r.logger.Error("reload failed: running rules kept", "trigger", trigger, "err", err.Error())
	} else {
		r.metrics.success.Set(1)
		r.metrics.successTime.SetToCurrentTime()
	}
	r.metrics.reloads.WithLabelValues(trigger, result).Inc()
	return err
}

// swap loads the config and rules as serve does and, when all is valid,
// puts the new rules in place. Called with r.mu held.
func (r *reloader) swap() error {
	if r.path == "" {
		r.logger.Info("rules reloaded: built-in rules, nothing to read")
		return nil
	}
	s, err := load(r.path)
	if err != nil {
		return err
	}
	var errs yamlfile.Errors
	for _, rule := range s.rules.Rules() {
		names := rule.Receivers
		if rule.Fallback != "" {
			names = append(slices.Clone(names), rule.Fallback)
		}
		for _, name := range names {
			if !r.receivers[name] {
				errs = append(errs, &yamlfile.Error{File: rule.File, Line: rule.Line,
					Msg: fmt.Sprintf("rule %q: receiver %q is new: receivers are set up at start; restart imalert to use it", rule.Name, name)})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	r.pipeline.SetRules(s.rules)
	r.patterns = s.cfg.RuleFiles
	r.metrics.rules.Set(float64(len(s.rules.Rules())))
	r.logger.Info("rules reloaded", "rules", len(s.rules.Rules()), "files", len(s.files))
	for _, w := range s.cfg.Warnings {
		r.logger.Warn("config warning", "warning", w)
	}
	if !slices.Equal(r.apps, s.cfg.AppIDs()) || !maps(r.receivers, s.cfg.ReceiverNames()) {
		r.logger.Warn("apps or receivers changed in the config: they change only with a restart")
	}
	if r.setVerifiers != nil {
		if tokensChanged(r.cfg, s.cfg) {
			r.logger.Info("callback tokens reloaded")
		}
		r.setVerifiers(verifiers(s.cfg))
	}
	if restartOnlyChanged(r.cfg, s.cfg) {
		r.logger.Warn("listen, server, admin, callback admission, journal, throttle, state or log settings changed: they apply at the next restart")
	}
	r.cfg = s.cfg
	return nil
}

// tokensChanged reports whether any app's tokens or the freshness window
// differ between a and b.
func tokensChanged(a, b *config.Config) bool {
	if a.Callback.FreshnessWindow != b.Callback.FreshnessWindow || len(a.Apps) != len(b.Apps) {
		return true
	}
	for i := range a.Apps {
		if a.Apps[i].SdkAppID != b.Apps[i].SdkAppID || !slices.Equal(a.Apps[i].Tokens, b.Apps[i].Tokens) {
			return true
		}
	}
	return false
}

// restartOnlyChanged reports whether a and b differ in settings a reload
// does not apply.
func restartOnlyChanged(a, b *config.Config) bool {
	ca, cb := a.Callback, b.Callback
	ca.FreshnessWindow, cb.FreshnessWindow = 0, 0 // applied with the tokens
	return a.Listen != b.Listen || a.CallbackPath != b.CallbackPath || a.DataDir != b.DataDir ||
		!reflect.DeepEqual(a.Server, b.Server) || !reflect.DeepEqual(a.Admin, b.Admin) ||
		!reflect.DeepEqual(ca, cb) || a.Journal != b.Journal || a.Throttle != b.Throttle || a.Log != b.Log ||
		a.State != b.State
}

func maps(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// run reloads on every signal from hup and, debounced, on changes to the
// config file and the rule files, until ctx ends.
func (r *reloader) run(ctx context.Context, hup <-chan os.Signal) {
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	var w *fsnotify.Watcher
	if r.path != "" {
		var err error
		if w, err = fsnotify.NewWatcher(); err != nil {
			r.logger.Warn("not watching rule files: reload with SIGHUP or POST /-/reload", "err", err.Error())
		} else {
			defer w.Close()
			events, watchErrs = w.Events, w.Errors
			r.watch(w)
			r.logger.Info("watching rule files", "dirs", w.WatchList())
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = r.reload(triggerSignal)
			r.watch(w)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if r.relevant(ev) {
				timer.Reset(reloadDebounce)
			}
		case err, ok := <-watchErrs:
			if !ok {
				watchErrs = nil
				continue
			}
			r.logger.Warn("watching rule files", "err", err.Error())
		case <-timer.C:
			_ = r.reload(triggerWatch)
			r.watch(w)
		}
	}
}

// watchDirs are the directories holding the config file and the rule
// files. Directories, not files, are watched: editors and Kubernetes
// replace files rather than write them in place.
func (r *reloader) watchDirs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	dirs := []string{filepath.Dir(r.path)}
	for _, p := range r.patterns {
		d := filepath.Dir(p)
		if strings.ContainsAny(d, "*?[\\") {
			continue // a pattern in the directory part: only SIGHUP and the API reload it
		}
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// watch makes w watch exactly the current directories.
func (r *reloader) watch(w *fsnotify.Watcher) {
	if w == nil {
		return
	}
	want := r.watchDirs()
	for _, d := range w.WatchList() {
		if !slices.Contains(want, d) {
			_ = w.Remove(d)
		}
	}
	have := w.WatchList()
	for _, d := range want {
		if slices.Contains(have, d) {
			continue
		}
		if err := w.Add(d); err != nil {
			r.logger.Warn("cannot watch directory: changes in it need SIGHUP or POST /-/reload", "dir", d, "err", err.Error())
		}
	}
}

// relevant reports whether ev touches the config file, a rule file, or a
// Kubernetes ConfigMap's "..data" link.
func (r *reloader) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	name := filepath.Clean(ev.Name)
	if name == filepath.Clean(r.path) || strings.HasPrefix(filepath.Base(name), "..") {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.patterns {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}
