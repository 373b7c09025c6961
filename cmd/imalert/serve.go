package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/console"
	"github.com/imalert/imalert/alert/email"
	"github.com/imalert/imalert/alert/slack"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/server"
)

// serve runs the daemon until ctx ends (SIGINT or SIGTERM).
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: built-in config and rules)")
	listen := fs.String("listen", "", "listen address, overriding the config's listen")
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
	logger := slog.New(config.NewRedactor(cfg.Secrets()...).Handler(newLogger(stderr, cfg.Log).Handler()))
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := alert.NewMetrics(reg)
	dispatcher := alert.NewDispatcher(logger.With("component", "delivery"), metrics, destinations(cfg, stdout))
	pipeline := alert.NewPipeline(alert.PipelineOptions{
		Logger:    logger.With("component", "pipeline"),
		Metrics:   metrics,
		Rules:     s.rules,
		Catalogue: s.catalogue,
		Out:       dispatcher,
		MaxKeys:   cfg.Throttle.MaxKeys,
	})
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
		Limits:            callbackLimits(cfg.Callback.Limits),
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
		"admin_token", cfg.Admin.Token.IsSet(), "rules", len(s.rules.Rules()), "receivers", len(cfg.Receivers))

	// Delivery outlives the server and the pipeline so that accepted work
	// drains on shutdown; hardStop cuts it off after the shutdown timeout.
	hardCtx, hardStop := context.WithCancel(context.Background())
	defer hardStop()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); dispatcher.Run(hardCtx) }()
	pipeDone := make(chan struct{})
	go func() { defer wg.Done(); defer close(pipeDone); pipeline.Run(hardCtx) }()

	reloadCtx, stopReload := context.WithCancel(ctx)
	reloadDone := make(chan struct{})
	go func() { defer close(reloadDone); reload.run(reloadCtx, hup) }()

	err = srv.RunWithAdmin(ctx, ln, adminLn)
	stopReload()
	<-reloadDone
	logger.Info("shutting down")
	pipeline.Stop()
	<-pipeDone
	dispatcher.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.Server.ShutdownTimeout.D()):
		logger.Warn("shutdown timeout: abandoning deliveries in flight")
		hardStop()
		<-done
	}
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
func destinations(cfg *config.Config, stdout io.Writer) []alert.Destination {
	out := make([]alert.Destination, 0, len(cfg.Receivers))
	cons := console.New(stdout) // receivers of type console share stdout
	for _, r := range cfg.Receivers {
		d := alert.Destination{Name: r.Name}
		switch {
		case r.Console != nil:
			d.Notifier = cons
		case r.Slack != nil:
			d.Notifier = slack.New(r.Slack, &http.Client{Timeout: r.Slack.Timeout.D()})
			d.Timeout = r.Slack.Timeout.D()
		case r.Email != nil:
			d.Notifier = email.New(r.Email)
			d.Timeout = r.Email.Timeout.D()
		}
		out = append(out, d)
	}
	return out
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
