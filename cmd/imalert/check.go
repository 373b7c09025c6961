package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/imalert/imalert/reload"
)

// check validates the config and every rule file exactly as serve loads
// them. Errors go to stderr as file:line: message, one per line.
func check(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file to check (default: the built-in config)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "check: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	s, err := reload.Load(*path)
	stderr = redacted(stderr, s)
	if s != nil && s.Config != nil {
		for _, w := range s.Config.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
	}
	if s != nil && s.Rules != nil {
		for _, w := range s.Rules.Warnings() {
			fmt.Fprintln(stderr, "warning:", w)
		}
	}
	if err != nil {
		printErrors(stderr, err)
		return errReported
	}
	name := *path
	if name == "" {
		name = "built-in config"
	}
	fmt.Fprintf(stdout, "%s: OK: %d app(s), %d receiver(s), %d rule(s) in %d file(s)\n",
		name, len(s.Config.Apps), len(s.Config.Receivers), len(s.Rules.Rules()), len(s.Files))
	return nil
}
