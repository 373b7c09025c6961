package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/store"
)

// Run serves until ctx ends or the server fails, then shuts down: it stops
// taking callbacks, lets the pipeline finish what was taken, and delivers
// what it can within the shutdown timeout. What is left resumes from the
// store at the next start. Run closes the listeners and the store.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.close()
	source := d.o.Path
	if source == "" {
		source = "built-in defaults"
	}
	cfg := d.cfg
	d.logger.Info("listening", "addr", d.Addr(), "admin_addr", d.AdminAddr(), "tls", cfg.Server.TLS.Enabled(),
		"callback_path", cfg.CallbackPath, "config", source, "apps", cfg.AppIDs(), "signed_apps", len(d.o.Set.Verifiers()),
		"admin_token", cfg.Admin.Token.IsSet(), "rules", len(d.o.Set.Rules.Rules()), "receivers", len(cfg.Receivers),
		"data", d.store.Path())

	// Processing and delivery outlive the server so that accepted work
	// drains on shutdown; hardStop cuts them off after the shutdown
	// timeout.
	hardCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	pipeDone := goDone(func() {
		if d.o.TuneProcess {
			inBackground()
		}
		// Decision state (up to throttle.max_keys windows) is restored
		// after listening starts, so that start-up stays short: callbacks
		// are journaled meanwhile, and processed once it is back.
		if restore(hardCtx, d.logger, d.pipeline) {
			d.pipeline.Run(hardCtx)
		}
	})
	deliveryDone := goDone(func() { d.dispatcher.Run(hardCtx) })
	rememberDone := goDone(func() { d.remember(ctx) })
	// The sweep and the reloader stop with the server, whether ctx or a
	// failure of the server ended it.
	serveCtx, stopServing := context.WithCancel(ctx)
	sweepDone := goDone(func() { sweep(serveCtx, d.logger, d.store, cfg.Journal.Retention.D()) })
	reloadDone := goDone(func() { d.reloader.Run(serveCtx, d.o.Reload) })
	watchDone := goDone(func() { runWatchdog(serveCtx, cfg.Watchdog, d.store, d.dispatcher, d.logger) })
	silencesDone := goDone(func() { d.silences.Watch(serveCtx) }) // shared silences only

	err := d.server.RunWithAdmin(ctx, d.ln, d.adminLn)
	stopServing()
	<-rememberDone
	<-reloadDone
	<-sweepDone
	<-watchDone
	<-silencesDone
	d.logger.Info("shutting down")
	// Processing and delivery stop a fifth of the timeout (at most 2 s)
	// before it: closing the store then folds the journal log and
	// checkpoints the write-ahead log, which after a storm of distinct
	// groups took a second.
	timeout := cfg.Server.ShutdownTimeout.D()
	deadline := time.Now().Add(timeout - min(timeout/5, 2*time.Second))
	// The backlog is processed until the shutdown timeout, whatever its
	// size; what is left resumes at the next start.
	d.pipeline.Stop()
	select {
	case <-pipeDone:
	case <-time.After(time.Until(deadline)):
		d.logger.Warn("shutdown timeout: unprocessed callbacks resume at the next start")
		hardStop()
		<-pipeDone
	}
	d.dispatcher.Drain(deadline)
	select {
	case <-deliveryDone:
	case <-time.After(time.Until(deadline)):
		d.logger.Warn("shutdown timeout: deliveries in flight resume at the next start")
		hardStop()
		<-deliveryDone
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// restore restores the pipeline's decision state, retrying a failure
// every second until ctx ends; it reports whether it succeeded.
func restore(ctx context.Context, logger *slog.Logger, p *alert.Pipeline) bool {
	for {
		err := p.Restore(ctx)
		if err == nil {
			return true
		}
		logger.Error("restoring decision state failed; callbacks are journaled, not processed, until it succeeds", "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
		}
	}
}

// goDone runs f in a goroutine and returns a channel closed when it returns.
func goDone(f func()) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	return done
}

// sweepEvery is how often retention runs.
const sweepEvery = time.Hour

// sweep applies retention at start and then every sweepEvery until ctx
// ends.
func sweep(ctx context.Context, logger *slog.Logger, st *store.Store, retention time.Duration) {
	for {
		now := time.Now()
		n, err := st.Sweep(ctx, store.SweepOptions{Before: now.Add(-retention), Now: now})
		if err != nil && ctx.Err() == nil {
			logger.Error("retention sweep failed", "err", err)
		} else if n != (store.Swept{}) {
			logger.Info("retention sweep", "events", n.Events, "notifications", n.Notifications, "windows", n.Windows, "incidents", n.Incidents)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(sweepEvery):
		}
	}
}
