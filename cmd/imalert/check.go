package main

import (
	"context"
	"flag"
	"fmt"
	"io"
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
	s, err := loadWith(*path, withoutSecrets)
	stderr = redacted(stderr, s)
	if s != nil && s.cfg != nil {
		for _, w := range s.cfg.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
	}
	if s != nil && s.rules != nil {
		for _, w := range s.rules.Warnings() {
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
		name, len(s.cfg.Apps), len(s.cfg.Receivers), len(s.rules.Rules()), len(s.files))
	return nil
}
