// Package reload applies a changed config file, rule files and secret files
// to the running daemon, and says what it cannot apply. It knows what can
// change at run time: the rules and error codes (swapped whole), the apps'
// callback tokens and freshness window, the log level, and the settings of
// a receiver that live in its notifier (URL, token, channel, mentions,
// SMTP settings), rebuilt while the receiver keeps its delivery queue.
// Every other change is named as needing a restart, by its path in the
// config file: the comparison walks the config's types, so a setting added
// later is covered without a change here.
//
// Load is also how serve, check and test read the config and rules, so
// that check validates exactly what a reload or a start would run.
package reload

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/yamlfile"
	"github.com/imalert/imalert/rules"
)

// Triggers of a reload, the values of the trigger label.
const (
	TriggerSignal = "signal"
	TriggerWatch  = "watch"
	TriggerAPI    = "api"
)

// RuleSetter runs a new rule set: the pipeline.
type RuleSetter interface {
	SetRules(*rules.Engine)
}

// VerifierSetter checks callback signatures: the server's verifiers.
type VerifierSetter interface {
	Replace(map[uint64]*callback.Verifier)
}

// NotifierSetter delivers the outbox: the dispatcher. SetNotifier replaces
// the notifier of a receiver, which keeps its queue; it reports false when
// the receiver has no queue.
type NotifierSetter interface {
	SetNotifier(name string, n notify.Notifier) bool
}

// LevelSetter sets the level of the daemon's log: a *slog.LevelVar.
type LevelSetter interface {
	Set(slog.Level)
}

// Options configure a Reloader.
type Options struct {
	// Path is the config file; "" for the built-in config, which has
	// nothing to reload.
	Path string
	// Override, when set, is applied to every config loaded, as it was to
	// the one the daemon started with (serve's --listen and --data-dir),
	// so that it is not taken for a change.
	Override func(*config.Config)
	// Initial is what the daemon started with; required.
	Initial *Set

	Rules     RuleSetter     // required
	Verifiers VerifierSetter // nil: tokens are not applied
	// Notifiers, when set, lets receivers' settings apply; nil: a changed
	// receiver needs a restart.
	Notifiers NotifierSetter
	// Level, when set, applies log.level.
	Level LevelSetter
	// Redactor learns the secrets of every config loaded, so that a new
	// webhook URL or token never reaches a log line.
	Redactor *config.Redactor
	// Console is the notifier of console receivers.
	Console notify.Notifier

	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Reloader applies reloads, one at a time.
type Reloader struct {
	o       Options
	logger  *slog.Logger
	metrics metrics

	mu    sync.Mutex
	start *config.Config             // what the server and dispatcher were built from
	cur   *Set                       // the set last loaded
	recv  map[string]config.Receiver // the receiver config each notifier runs with
}

// New returns a Reloader of the daemon that started with o.Initial.
func New(o Options) *Reloader {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{o: o, logger: o.Logger, metrics: newMetrics(o.Registerer),
		start: o.Initial.Config, cur: o.Initial, recv: map[string]config.Receiver{}}
	for _, rc := range o.Initial.Config.Receivers {
		r.recv[rc.Name] = rc
	}
	r.metrics.loaded(len(o.Initial.Rules.Rules()))
	return r
}

// Reload implements server.Reloader for POST /-/reload.
func (r *Reloader) Reload(context.Context) ([]string, error) { return r.reload(TriggerAPI) }

// reload loads the config and rules and applies them, or keeps everything
// running as it is and returns why. It returns the changes that need a
// restart.
func (r *Reloader) reload(trigger string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	restart, err := r.apply()
	if err != nil {
		r.metrics.failed(trigger)
		r.logger.Error("reload failed: running rules kept", "trigger", trigger, "err", err.Error())
		return nil, err
	}
	r.metrics.succeeded(trigger, len(r.cur.Rules.Rules()), len(restart))
	if len(restart) > 0 {
		r.logger.Warn("changed settings apply at the next restart", "trigger", trigger, "settings", restart)
	}
	return restart, nil
}

// apply loads the config and rules as serve does and, when all is valid
// and nothing is lost, puts in place what can change at run time. Called
// with r.mu held.
func (r *Reloader) apply() ([]string, error) {
	if r.o.Path == "" {
		r.logger.Info("rules reloaded: built-in rules, nothing to read")
		return nil, nil
	}
	next, err := Load(r.o.Path)
	// Secrets first, even of a config refused, so that nothing about a new
	// value is logged unredacted.
	if next != nil && next.Config != nil && r.o.Redactor != nil {
		r.o.Redactor.Add(next.Config.Secrets()...)
	}
	if err != nil {
		return nil, err
	}
	if r.o.Override != nil {
		r.o.Override(next.Config)
	}
	if errs := append(r.newReceivers(next), lostRules(r.cur, next)...); len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	p := r.plan(next)

	for _, rc := range p.swap {
		if !r.o.Notifiers.SetNotifier(rc.Name, destination(rc, r.o.Console, next.Config.ExternalURL).Notifier) {
			r.logger.Error("receiver not reloaded: it has no delivery queue", "receiver", rc.Name)
			continue
		}
		r.recv[rc.Name] = rc
	}
	if r.o.Verifiers != nil {
		r.o.Verifiers.Replace(next.Verifiers())
	}
	if r.o.Level != nil {
		var level slog.Level
		if level.UnmarshalText([]byte(next.Config.Log.Level)) == nil {
			r.o.Level.Set(level)
		}
	}
	r.o.Rules.SetRules(next.Rules)
	prev := r.cur
	r.cur = next

	r.logger.Info("rules reloaded", "rules", len(next.Rules.Rules()), "files", len(next.Files))
	if tokensChanged(prev.Config, next.Config) {
		r.logger.Info("callback tokens reloaded")
	}
	for _, rc := range p.swap {
		r.logger.Info("receiver reloaded: pending pages keep their queue", "receiver", rc.Name)
	}
	for _, w := range next.Config.Warnings {
		r.logger.Warn("config warning", "warning", w)
	}
	return p.restart, nil
}

// newReceivers refuses rules that name a receiver the dispatcher has no
// queue for: receivers are added only at start.
func (r *Reloader) newReceivers(next *Set) yamlfile.Errors {
	var errs yamlfile.Errors
	for _, rule := range next.Rules.Rules() {
		names := rule.Receivers
		if rule.Fallback != "" {
			names = append(slices.Clone(names), rule.Fallback)
		}
		for _, name := range names {
			if _, ok := r.recv[name]; !ok {
				errs = append(errs, &yamlfile.Error{File: rule.File, Line: rule.Line,
					Msg: fmt.Sprintf("rule %q: receiver %q is new: receivers are added only at start; restart imalert to use it", rule.Name, name)})
			}
		}
	}
	return errs
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
