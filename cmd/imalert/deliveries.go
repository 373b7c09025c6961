package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/store"
)

// deliveries lists the outbox (by default the dead letters), or requeues a
// dead letter. It reads the database next to a running daemon.
func deliveries(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deliveries", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file, for data_dir (default: the built-in config)")
	dataDir := fs.String("data-dir", "", "data directory, overriding the config's data_dir")
	state := fs.String("state", string(store.Dead), "pending, sent, merged, dead, rerouted, held, or all")
	receiver := fs.String("receiver", "", "only this receiver")
	limit := fs.Int("limit", 50, "at most this many, newest first")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	requeue := fs.String("requeue", "", "make the dead letter with this id pending again")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "deliveries: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	st := store.State(*state)
	if *state == "all" {
		st = ""
	} else if !store.ValidState(st) {
		fmt.Fprintf(stderr, "deliveries: --state: want pending, sent, merged, dead, rerouted, held or all\n")
		return errUsage
	}
	if *limit < 1 {
		fmt.Fprintf(stderr, "deliveries: --limit must be positive\n")
		return errUsage
	}
	dir := *dataDir
	if dir == "" {
		cfg := config.Default()
		if *path != "" {
			var err error
			if cfg, err = config.Load(*path); cfg == nil {
				printErrors(stderr, err)
				return errReported
			}
		}
		dir = cfg.DataDir
	}
	db, err := store.Open(ctx, store.Options{Dir: dir, ReadOnly: *requeue == ""})
	if err != nil {
		return fmt.Errorf("deliveries: %w", err)
	}
	defer db.Close()
	if *requeue != "" {
		ok, err := db.Requeue(ctx, *requeue, time.Now())
		if err != nil {
			return fmt.Errorf("deliveries: %w", err)
		}
		if !ok {
			return fmt.Errorf("deliveries: no dead letter %q", *requeue)
		}
		fmt.Fprintf(stdout, "%s: pending again; a running imalert picks it up within 30 seconds\n", *requeue)
		return nil
	}
	rows, err := db.Deliveries(ctx, store.Filter{State: st, Receiver: *receiver, Limit: *limit})
	if err != nil {
		return fmt.Errorf("deliveries: %w", err)
	}
	view := delivery.Deliveries(rows)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(view)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tRECEIVER\tRULE\tKEY\tATTEMPTS\tCREATED\tLAST ERROR")
	for _, d := range view {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.State, d.Receiver, d.Rule, oneLine(d.GroupKey, 48),
			d.Attempts, d.CreatedAt.UTC().Format(time.RFC3339), oneLine(d.LastError, 80))
	}
	return tw.Flush()
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
