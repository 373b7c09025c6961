package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/console"
	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/dingtalk"
	"github.com/imalert/imalert/alert/email"
	"github.com/imalert/imalert/alert/feishu"
	"github.com/imalert/imalert/alert/slack"
	"github.com/imalert/imalert/alert/state/redisstate"
	"github.com/imalert/imalert/alert/webhook"
	"github.com/imalert/imalert/alert/wecom"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/server"
	"github.com/imalert/imalert/store"
)

// serve runs the daemon until ctx ends (SIGINT or SIGTERM).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: built-in config and rules)")
	listen := fs.String("listen", "", "listen address, overriding the config's listen")
	dataDir := fs.String("data-dir", "", "data directory, overriding the config's data_dir")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "serve: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	s, err := load(*path)
	if err != nil {
		printErrors(redacted(stderr, s), err)
		return errReported
	}
	cfg := s.cfg
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	redactor := config.NewRedactor(cfg.Secrets()...)
	logger := slog.New(redactor.Handler(newLogger(stderr, cfg.Log).Handler()))
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := alert.NewMetrics(reg)
	st, err := store.Open(ctx, store.Options{Dir: cfg.DataDir, Sync: cfg.Journal.Sync, Exclusive: true,
		Logger: logger.With("component", "store"), Registerer: reg})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing the store failed", "err", err)
		}
	}()
	dispatcher := delivery.NewDispatcher(delivery.DispatcherOptions{
		Logger:       logger.With("component", "delivery"),
		Metrics:      delivery.NewMetrics(reg),
		Store:        st,
		Destinations: destinations(cfg, stdout),
		Redact:       redactor.Redact,
	})
	limits := callbackLimits(cfg.Callback.Limits)
	states, closeStates, err := redisstate.Open(ctx, cfg.State, redisstate.Options{Logger: logger.With("component", "state"), Registerer: reg, MaxKeys: cfg.Throttle.MaxKeys})
	if err != nil {
		return err
	}
	defer closeStates()
	pipeline := alert.NewPipeline(alert.PipelineOptions{
		Logger:    logger.With("component", "pipeline"),
		Metrics:   metrics,
		Rules:     s.rules,
		Catalogue: s.catalogue,
		Store:     st,
		Out:       dispatcher,
		MaxKeys:   cfg.Throttle.MaxKeys,
		States:    states,
		Limits:    limits,
	})
	if err := pipeline.Restore(ctx); err != nil {
		return err
	}
	// SIGHUP and changed rule files reload the rules until shutdown. The
	// signal is caught before the daemon says it listens.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := newReloader(reloaderOptions{Path: *path, Logger: logger.With("component", "reload"), Registerer: reg, Pipeline: pipeline, Setup: s})
	srv := server.New(server.Options{
		Logger:            logger.With("component", "server"),
		Registerer:        reg,
		Gatherer:          reg,
		CallbackPath:      cfg.CallbackPath,
		Apps:              cfg.AppIDs(),
		MaxBodyBytes:      cfg.Server.MaxBodyBytes,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout.D(),
		ReadTimeout:       cfg.Server.ReadTimeout.D(),
		WriteTimeout:      cfg.Server.WriteTimeout.D(),
		IdleTimeout:       cfg.Server.IdleTimeout.D(),
		ShutdownTimeout:   cfg.Server.ShutdownTimeout.D(),
		Ingester:          pipeline,
		Reloader:          reload,
		Deliveries:        st,
		Limits:            limits,
		Verifiers:         verifiers(cfg),
		TrustedProxies:    cfg.Server.TrustedProxies,
		AllowNets:         cfg.Callback.AllowNets,
		RateLimit: server.RateLimit{
			PerSecond:  cfg.Callback.RateLimit.PerSecond,
			Burst:      cfg.Callback.RateLimit.Burst,
			MaxSources: cfg.Callback.RateLimit.MaxSources,
		},
		DedupWindow:   cfg.Callback.DedupWindow.D(),
		DedupMaxKeys:  cfg.Callback.DedupMaxKeys,
		AdminToken:    cfg.Admin.Token.Reveal(),
		SeparateAdmin: cfg.Admin.Listen != "",
		TLSCertFile:   cfg.Server.TLS.CertFile,
		TLSKeyFile:    cfg.Server.TLS.KeyFile,
	})

	reload.setVerifiers = srv.SetVerifiers
	// Retries and replays of callbacks taken just before a restart are
	// still recognised: the journal knows them.
	if w := cfg.Callback.DedupWindow.D(); w > 0 {
		err := st.EventsSince(ctx, time.Now().Add(-w), func(e store.Event) error {
			srv.Remember(e.Raw)
			return nil
		})
		if err != nil {
			logger.Warn("de-duplication keys not restored from the journal", "err", err)
		}
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var adminLn net.Listener
	adminAddr := ln.Addr().String()
	if cfg.Admin.Listen != "" {
		if adminLn, err = net.Listen("tcp", cfg.Admin.Listen); err != nil {
			ln.Close()
			return fmt.Errorf("listen: admin: %w", err)
		}
		adminAddr = adminLn.Addr().String()
	}
	source := *path
	if source == "" {
		source = "built-in defaults"
	}
	logger.Info("listening", "addr", ln.Addr().String(), "admin_addr", adminAddr, "tls", cfg.Server.TLS.Enabled(),
		"callback_path", cfg.CallbackPath, "config", source, "apps", cfg.AppIDs(), "signed_apps", len(verifiers(cfg)),
		"admin_token", cfg.Admin.Token.IsSet(), "rules", len(s.rules.Rules()), "receivers", len(cfg.Receivers),
		"data", st.Path())

	// Processing and delivery outlive the server so that accepted work
	// drains on shutdown; hardStop cuts them off after the shutdown
	// timeout, and what is left resumes from the store at the next start.
	hardCtx, hardStop := context.WithCancel(context.Background())
	defer hardStop()
	pipeDone := make(chan struct{})
	go func() { defer close(pipeDone); pipeline.Run(hardCtx) }()
	deliveryDone := make(chan struct{})
	go func() { defer close(deliveryDone); dispatcher.Run(hardCtx) }()
	// The sweep and the reloader stop with the server, whether a signal
	// or a failure of the server ended it.
	sweepCtx, stopSweep := context.WithCancel(ctx)
	defer stopSweep()
	sweepDone := make(chan struct{})
	go func() { defer close(sweepDone); sweep(sweepCtx, logger, st, cfg.Journal.Retention.D()) }()
	reloadCtx, stopReload := context.WithCancel(ctx)
	reloadDone := make(chan struct{})
	go func() { defer close(reloadDone); reload.run(reloadCtx, hup) }()

	err = srv.RunWithAdmin(ctx, ln, adminLn)
	stopReload()
	stopSweep()
	<-reloadDone
	logger.Info("shutting down")
	pipeline.Stop()
	<-pipeDone
	deadline := time.Now().Add(cfg.Server.ShutdownTimeout.D())
	dispatcher.Drain(deadline)
	select {
	case <-deliveryDone:
	case <-time.After(time.Until(deadline)):
		logger.Warn("shutdown timeout: deliveries in flight resume at the next start")
		hardStop()
		<-deliveryDone
	}
	<-sweepDone
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// verifiers builds the signature check of every app with tokens.
func verifiers(cfg *config.Config) map[uint64]*callback.Verifier {
	out := make(map[uint64]*callback.Verifier)
	for _, a := range cfg.Apps {
		if !a.Signed() {
			continue
		}
		tokens := make([]string, len(a.Tokens))
		for i, t := range a.Tokens {
			tokens[i] = t.Reveal()
		}
		out[a.SdkAppID] = callback.NewVerifier(tokens, cfg.Callback.FreshnessWindow.D())
	}
	return out
}

func callbackLimits(l config.Limits) callback.Limits {
	return callback.Limits{
		MaxDepth:     l.MaxJSONDepth,
		MaxElements:  l.MaxMsgElements,
		MaxFields:    l.MaxFields,
		MaxEvents:    l.MaxPushEvents,
		MaxTextBytes: l.MaxTextBytes,
	}
}

// destinations builds one delivery destination per configured receiver.
// Receivers that post to the same place share a pace key, so they share
// pacing and Retry-After.
func destinations(cfg *config.Config, stdout io.Writer) []delivery.Destination {
	out := make([]delivery.Destination, 0, len(cfg.Receivers))
	cons := console.New(stdout) // receivers of type console share stdout
	for _, r := range cfg.Receivers {
		d := delivery.Destination{
			Name:  r.Name,
			Retry: r.Retry,
			Pace:  r.Pace,
		}
		switch {
		case r.Console != nil:
			d.Notifier = cons
			d.PaceKey = "console"
		case r.Slack != nil:
			d.Notifier = slack.New(r.Slack, &http.Client{Timeout: r.Slack.Timeout.D()})
			d.Timeout = r.Slack.Timeout.D()
			if r.Slack.WebhookURL.IsSet() {
				d.PaceKey = "slack-webhook " + digest(r.Slack.WebhookURL.Reveal())
			} else {
				d.PaceKey = "slack " + r.Slack.APIURL + " " + r.Slack.Channel
				if r.Slack.Repeats != config.RepeatsNew {
					d.IncidentTTL = r.Slack.IncidentTTL.D()
				}
			}
		case r.Email != nil:
			d.Notifier = email.New(r.Email)
			d.Timeout = r.Email.Timeout.D()
			d.PaceKey = "smtp " + net.JoinHostPort(r.Email.SMTPHost, strconv.Itoa(r.Email.SMTPPort))
		case r.Webhook != nil:
			d.Notifier = webhook.New(r.Webhook, &http.Client{Timeout: r.Webhook.Timeout.D()})
			d.Timeout = r.Webhook.Timeout.D()
			d.PaceKey = "webhook " + digest(r.Webhook.URL.Reveal())
		case r.WeCom != nil:
			d.Notifier = wecom.New(r.WeCom, &http.Client{Timeout: r.WeCom.Timeout.D()})
			d.Timeout = r.WeCom.Timeout.D()
			d.PaceKey = "wecom " + digest(r.WeCom.WebhookURL.Reveal())
		case r.DingTalk != nil:
			d.Notifier = dingtalk.New(r.DingTalk, &http.Client{Timeout: r.DingTalk.Timeout.D()})
			d.Timeout = r.DingTalk.Timeout.D()
			d.PaceKey = "dingtalk " + digest(r.DingTalk.WebhookURL.Reveal())
		case r.Feishu != nil:
			d.Notifier = feishu.New(r.Feishu, &http.Client{Timeout: r.Feishu.Timeout.D()}, cfg.ExternalURL)
			d.Timeout = r.Feishu.Timeout.D()
			d.PaceKey = "feishu " + digest(r.Feishu.WebhookURL.Reveal())
		}
		out = append(out, d)
	}
	return out
}

// digest identifies a secret URL without holding it.
func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
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

func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
