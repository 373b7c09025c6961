package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/imalert/imalert/daemon"
	"github.com/imalert/imalert/reload"
)

// serve runs the daemon until ctx ends (SIGINT or SIGTERM); SIGHUP reloads.
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
	s, err := reload.Load(*path)
	if err != nil {
		printErrors(redacted(stderr, s), err)
		return errReported
	}
	// SIGHUP is caught before the daemon says it listens.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	d, err := daemon.New(ctx, daemon.Options{Set: s, Path: *path, Listen: *listen, DataDir: *dataDir,
		Stdout: stdout, Stderr: stderr, Reload: hup, TuneProcess: true})
	if err != nil {
		return err
	}
	return d.Run(ctx)
}
