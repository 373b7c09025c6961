// Package daemon is imalert serve as a value: New builds the store, the
// pipeline, the dispatcher, the reloader and the server from a loaded
// config and listens; Run serves until its context ends and then drains.
// It touches no signal and no os.Args, so tests run it in-process.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/console"
	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/mute"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/alert/state/redisstate"
	"github.com/imalert/imalert/alert/trace"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/reload"
	"github.com/imalert/imalert/server"
	"github.com/imalert/imalert/server/ui"
	"github.com/imalert/imalert/store"
)

// Options configure a Daemon.
type Options struct {
	// Set is the config and rules to run, from reload.Load(Path).
	Set *reload.Set
	// Path is the config file reloads read; "" for the built-in config.
	Path string
	// Listen and DataDir, when set, override the config's listen and
	// data_dir, at start and at every reload.
	Listen, DataDir string
	// Stdout receives the pages of console receivers; Stderr the log.
	Stdout, Stderr io.Writer
	// Reload triggers a reload on every value (SIGHUP); nil: none.
	Reload <-chan os.Signal
	// TuneProcess tunes the Go runtime for the daemon: a soft memory limit
	// sized to the config's bounded maps (MemoryLimit) unless GOMEMLIMIT is
	// set, GOGC 200 under it unless GOGC is set, twice as many processors
	// as CPUs unless GOMAXPROCS is set, and a lower priority for the
	// processing thread (see inBackground). It is
	// process-wide: serve sets it, tests running daemons in-process do not.
	TuneProcess bool
}

func (o *Options) validate() error {
	if o.Set == nil || o.Set.Config == nil || o.Set.Rules == nil {
		return errors.New("daemon: no config and rules to run")
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	return nil
}

// override applies the command line's overrides to cfg.
func (o *Options) override(cfg *config.Config) {
	if o.Listen != "" {
		cfg.SetListen(o.Listen) // and the admin warning with it
	}
	if o.DataDir != "" {
		cfg.DataDir = o.DataDir
	}
}

// Daemon is a running imalert: built by New, served by Run.
type Daemon struct {
	o          Options
	cfg        *config.Config
	logger     *slog.Logger
	store      *store.Store
	dispatcher *delivery.Dispatcher
	pipeline   *alert.Pipeline
	reloader   *reload.Reloader
	server     *server.Server
	mute       *mute.Signer // signs and verifies one-tap mute links
	silences   *silence.Set
	ln         net.Listener
	adminLn    net.Listener // nil unless admin.listen is set
	// closeStates closes the decision state store (a Redis client).
	closeStates func() error
	// keysRestored ends the server's wait for the de-duplication keys
	// read back from the journal.
	keysRestored func()
}

// New builds the daemon and opens its listeners. The journal and outbox
// are opened, and what the last run left undone is restored; nothing is
// processed or delivered until Run. Run releases what New acquires.
func New(ctx context.Context, o Options) (d *Daemon, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	o.override(o.Set.Config)
	cfg := o.Set.Config
	redactor := config.NewRedactor(cfg.Secrets()...)
	level := new(slog.LevelVar)
	logger := slog.New(redactor.Handler(newLogger(o.Stderr, cfg.Log, level).Handler()))
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	d = &Daemon{o: o, cfg: cfg, logger: logger}
	if o.TuneProcess {
		setMemoryLimit(cfg, logger)
		setGCPercent(logger)
		setProcs(logger)
	}
	built := d // d is nil on an error return: release through built
	defer func() {
		if err != nil {
			built.close()
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := alert.NewMetrics(reg)
	if d.store, err = store.Open(ctx, store.Options{Dir: cfg.DataDir, Sync: cfg.Journal.Sync, Exclusive: true,
		WALCeiling: cfg.Journal.WALMaxBytes, CheckDelay: integrityCheckDelay, Logger: logger.With("component", "store"), Registerer: reg}); err != nil {
		return nil, err
	}
	states, closeStates, err := redisstate.Open(ctx, cfg.State, redisstate.Options{Logger: logger.With("component", "state"), Registerer: reg, MaxKeys: cfg.Throttle.MaxKeys})
	if err != nil {
		return nil, err
	}
	d.closeStates = closeStates
	silences, err := silence.Open(ctx, silence.Options{Store: d.store, MaxDuration: cfg.Silences.MaxDuration.D(),
		Logger: logger.With("component", "silence"), Registerer: reg, Shared: redisstate.SharedSilences(states)})
	if err != nil {
		return nil, err
	}
	d.silences = silences
	key, err := d.store.Key(ctx, mute.KeyName)
	if err != nil {
		return nil, err
	}
	d.mute = mute.NewSigner(key)
	stats := trace.NewStats()
	cons := console.New(o.Stdout) // receivers of type console share stdout
	d.dispatcher = delivery.NewDispatcher(delivery.DispatcherOptions{
		Logger:       logger.With("component", "delivery"),
		Metrics:      delivery.NewMetrics(reg),
		Store:        d.store,
		Destinations: o.Set.Destinations(cons),
		Redact:       redactor.Redact,
		OnDead:       func(n *notify.Notification) { d.pipeline.ReleaseWindow(context.Background(), n) },
		Budgets:      redisstate.SharedBudgets(states),
	})
	d.pipeline = alert.NewPipeline(d.pipelineOptions(logger.With("component", "pipeline"), metrics, states, stats, silences))
	verifiers := server.NewVerifiers(o.Set.Verifiers())
	d.reloader = reload.New(reload.Options{
		Path: o.Path, Override: o.override, Initial: o.Set,
		Rules: d.pipeline, Verifiers: verifiers, Notifiers: d.dispatcher, Level: level, Redactor: redactor, Console: cons,
		Logger: logger.With("component", "reload"), Registerer: reg,
	})
	d.server = server.New(d.serverOptions(logger.With("component", "server"), reg, verifiers, stats, silences))
	d.keysRestored = d.server.RestoringKeys()
	if err := d.listen(); err != nil {
		return nil, err
	}
	return d, nil
}

// pipelineOptions are the pipeline's options: the config's rules and
// limits, and the daemon's store, dispatcher and state.
func (d *Daemon) pipelineOptions(logger *slog.Logger, metrics *alert.Metrics, states state.Store, stats *trace.Stats, silences *silence.Set) alert.PipelineOptions {
	return alert.PipelineOptions{
		Logger:    logger,
		Metrics:   metrics,
		Rules:     d.o.Set.Rules,
		Catalogue: d.o.Set.Catalogue,
		Store:     d.store,
		Out:       d.dispatcher,
		MaxKeys:   d.cfg.Throttle.MaxKeys,
		States:    states,
		// Large batches in a storm: the decision state a batch changes is
		// written once per batch (the store spaces its wake-ups).
		BatchSize:   2048,
		Limits:      d.o.Set.Limits(),
		Observer:    stats,
		Silences:    silences,
		ExternalURL: d.cfg.ExternalURL,
		Mute:        d.mute,
	}
}

// serverOptions are the server's options: the config's, and the daemon's
// parts the server serves.
func (d *Daemon) serverOptions(logger *slog.Logger, reg *prometheus.Registry, v *server.Verifiers, stats *trace.Stats, silences *silence.Set) server.Options {
	o := d.o.Set.ServerOptions()
	o.Logger, o.Registerer, o.Gatherer = logger, reg, reg
	o.Ingester, o.Reloader, o.Deliveries, o.Verifiers, o.Silences = d.pipeline, d.reloader, d.store, v, silences
	o.Health = d.store
	limits := d.o.Set.Limits()
	o.Trace = trace.NewReader(d.store, d.pipeline.Rules, limits)
	o.UI = ui.New(ui.Options{Logger: d.logger.With("component", "ui"), Token: d.cfg.Admin.Token.Reveal(), Store: d.store, Limits: limits,
		Trace: o.Trace, Pipeline: d.pipeline, Stats: stats, Receivers: d.cfg.ReceiverNames(), Waker: d.dispatcher,
		Silences: silences, Mute: d.mute, Budgets: budgets(d.cfg)})
	return o
}

// budgets are the receivers' page budgets, by receiver.
func budgets(cfg *config.Config) map[string]config.Budget {
	out := make(map[string]config.Budget, len(cfg.Receivers))
	for _, r := range cfg.Receivers {
		out[r.Name] = r.Budget
	}
	return out
}

// integrityCheckDelay postpones the integrity check of a database too
// large to check before listening until start-up's own reads are done.
const integrityCheckDelay = 5 * time.Second

// remember tells the server the callbacks journaled inside the
// de-duplication window, so that IM's retries and replays of callbacks
// taken just before a restart are still recognised: the journal keeps
// their keys. Reading them back is bounded by dedup_max_keys, whatever the
// journal holds, and done once listening, so that start-up stays short:
// meanwhile callbacks wait for it (see Server.RestoringKeys).
func (d *Daemon) remember(ctx context.Context) {
	defer d.keysRestored()
	w := d.cfg.Callback.DedupWindow.D()
	if w <= 0 {
		return
	}
	start := time.Now()
	marks, err := d.store.RecentDedupKeys(ctx, start.Add(-w), d.server.DedupMaxKeys())
	for _, m := range marks {
		d.server.RememberKey(m.ReceivedAt, m.Key)
	}
	if err != nil {
		d.logger.Warn("de-duplication keys not restored from the journal", "err", err)
		return
	}
	d.logger.Info("de-duplication keys restored", "keys", len(marks), "duration", time.Since(start))
}

func (d *Daemon) listen() (err error) {
	if d.ln, err = net.Listen("tcp", d.cfg.Listen); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if d.cfg.Admin.Listen != "" {
		if d.adminLn, err = net.Listen("tcp", d.cfg.Admin.Listen); err != nil {
			return fmt.Errorf("listen: admin: %w", err)
		}
	}
	return nil
}

// Addr is the address the callback listener listens on.
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// AdminAddr is the address of the admin surface: its own listener's with
// admin.listen, else the callback listener's.
func (d *Daemon) AdminAddr() string {
	if d.adminLn != nil {
		return d.adminLn.Addr().String()
	}
	return d.Addr()
}

// close releases what New acquired, for a daemon that does not run.
func (d *Daemon) close() {
	for _, ln := range []net.Listener{d.ln, d.adminLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if d.store != nil {
		if err := d.store.Close(); err != nil {
			d.logger.Error("closing the store failed", "err", err)
		}
	}
	if d.closeStates != nil {
		_ = d.closeStates()
	}
}

// newLogger returns the daemon's log as c configures it, at level, which
// it sets to c's level (a reload changes it).
func newLogger(w io.Writer, c config.Log, level *slog.LevelVar) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.Level))
	level.Set(l)
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
