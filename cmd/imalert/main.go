// Command imalert turns Tencent Cloud IM callbacks into pages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `imalert turns Tencent Cloud IM callbacks into pages.

Usage:
  imalert serve [--config FILE] [--listen ADDR] [--data-dir DIR]
      run the daemon; SIGHUP, POST /-/reload and changed files reload it
  imalert check [--config FILE]
      validate the config, the rule files and the templates as serve loads them
  imalert test [--config FILE] [--at TIME] [--expect FILE] EVENTS.jsonl
  imalert test [--config FILE] --from-journal [--since 24h] [--data-dir DIR] [--expect FILE]
      dry-run callbacks through the server's checks and the rules; sends nothing
  imalert deliveries [--config FILE] [--data-dir DIR] [--state dead] [--receiver NAME]
                     [--limit N] [--json] [--requeue ID]
      list the outbox (dead letters by default), requeue one
  imalert trace [--config FILE] [--url URL] ID
  imalert trace [--config FILE] [--url URL] [--group G] [--from U] [--code N] [--rule R] [--since 1h] [--json]
      why an event, or recent events, paged or not, from a running daemon
  imalert silence add|ls|expire [--url URL] [--token T | --token-file F] ...
      mute events for a while, through the admin API
  imalert version
      print the version

Without --config, serve runs on built-in defaults: listen on 127.0.0.1:8080,
accept SdkAppid 1400000000, print pages to standard output.
"imalert COMMAND -h" describes each flag of a command.
`

// errUsage marks a command-line mistake: exit status 2.
var errUsage = errors.New("usage")

type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var cmd command
	switch args[0] {
	case "serve":
		cmd = serve
	case "check":
		cmd = check
	case "test":
		cmd = dryRun
	case "deliveries":
		cmd = deliveries
	case "trace":
		cmd = traceCmd
	case "silence":
		cmd = silenceCmd
	case "version", "--version":
		fmt.Fprintln(stdout, "imalert", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "imalert: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, errUsage) {
			return 2
		}
		if !errors.Is(err, errReported) {
			fmt.Fprintln(stderr, "imalert:", err)
		}
		return 1
	}
	return 0
}

// errReported means the command already printed its errors.
var errReported = errors.New("errors reported")
