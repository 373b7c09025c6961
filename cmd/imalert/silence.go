package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imalert/imalert/alert/silence"
)

const silenceUsage = `Usage:
  imalert silence add [flags] --duration 1h --author A --comment C FIELD=VALUE...
  imalert silence ls [flags] [--state active|pending|expired] [--json]
  imalert silence expire [flags] ID

FIELD is a rule match field or alias (error_code, GroupId, from_account, ...).
VALUE is a value, a list a,b, a range 80001-80004, or ~regex.

Flags of every subcommand:
  --config FILE      config whose admin listener and token to use
  --url URL          imalert's admin address (default: from the config)
  --token T          admin token (default: --token-file, $IMALERT_ADMIN_TOKEN, the config's)
  --token-file FILE  file holding the admin token
`

// silenceCmd is `imalert silence`: a client of /api/v1/silences.
func silenceCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, silenceUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("silence "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, silenceUsage) }
	c := &apiClient{name: "silence"}
	path := fs.String("config", "", "config file")
	fs.StringVar(&c.base, "url", "", "admin URL")
	token := fs.String("token", "", "admin token")
	tokenFile := fs.String("token-file", "", "file holding the admin token")
	var run func() error
	switch sub {
	case "add":
		run = silenceAdd(ctx, fs, c, stdout, stderr)
	case "ls":
		run = silenceList(ctx, fs, c, stdout)
	case "expire":
		run = silenceExpire(ctx, fs, c, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "silence: unknown subcommand %q\n\n%s", sub, silenceUsage)
		return errUsage
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if sub == "ls" && fs.NArg() > 0 {
		fmt.Fprintf(stderr, "silence ls: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if err := c.setup(*path, *token, *tokenFile); err != nil {
		fmt.Fprintf(stderr, "silence %s: %v\n", sub, err)
		return errReported
	}
	return run()
}

// silenceAdd defines the flags of `silence add` on fs and returns the
// command, to run once they are parsed.
func silenceAdd(ctx context.Context, fs *flag.FlagSet, c *apiClient, stdout, stderr io.Writer) func() error {
	var r silence.Request
	startsAt, endsAt := fs.String("starts-at", "", "start (RFC 3339); default now"), fs.String("ends-at", "", "end (RFC 3339), instead of --duration")
	fs.StringVar(&r.Duration, "duration", "", "how long, e.g. 30m, 2h, 1d")
	fs.StringVar(&r.Author, "author", os.Getenv("USER"), "who sets it")
	fs.StringVar(&r.Comment, "comment", "", "why")
	return func() error {
		var err error
		if r.StartsAt, err = parseTimeFlag("starts-at", *startsAt); err == nil {
			r.EndsAt, err = parseTimeFlag("ends-at", *endsAt)
		}
		if err == nil {
			r.Matchers, err = parseMatchers(fs.Args())
		}
		if err != nil {
			fmt.Fprintf(stderr, "silence add: %v\n", err)
			return errUsage
		}
		var s silence.Silence
		if err := c.do(ctx, http.MethodPost, "/api/v1/silences", r, &s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "silence %s %s from %s until %s\n", s.ID, s.State, s.StartsAt.Format(time.RFC3339), s.EndsAt.Format(time.RFC3339))
		return nil
	}
}

// silenceList defines the flags of `silence ls` on fs and returns the
// command.
func silenceList(ctx context.Context, fs *flag.FlagSet, c *apiClient, stdout io.Writer) func() error {
	state := fs.String("state", "", "only silences in this state")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	return func() error {
		var out struct{ Silences []silence.Silence }
		if err := c.do(ctx, http.MethodGet, "/api/v1/silences?state="+url.QueryEscape(*state), nil, &out); err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out.Silences)
		}
		return printSilences(stdout, out.Silences)
	}
}

// silenceExpire returns the command `silence expire ID`.
func silenceExpire(ctx context.Context, fs *flag.FlagSet, c *apiClient, stdout, stderr io.Writer) func() error {
	return func() error {
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, "silence expire: want one silence ID\n")
			return errUsage
		}
		var s silence.Silence
		if err := c.do(ctx, http.MethodDelete, "/api/v1/silences/"+url.PathEscape(fs.Arg(0)), nil, &s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "silence %s expired; it held %d events\n", s.ID, s.Silenced)
		return nil
	}
}

func parseTimeFlag(name, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, fmt.Errorf("--%s: want an RFC 3339 time such as 2026-11-25T20:00:00Z", name)
	}
	return &t, nil
}

// parseMatchers turns FIELD=VALUE arguments into a match block: VALUE a,b
// is a list, ~re a regex, and a range such as 80001-80004 is passed as
// written (the rule language reads it).
func parseMatchers(args []string) (json.RawMessage, error) {
	if len(args) == 0 {
		return nil, errors.New("at least one FIELD=VALUE is required")
	}
	m := map[string]any{}
	for _, a := range args {
		field, value, ok := strings.Cut(a, "=")
		if !ok || field == "" || value == "" {
			return nil, fmt.Errorf("%q: want FIELD=VALUE", a)
		}
		if _, dup := m[field]; dup {
			return nil, fmt.Errorf("%s given twice: give a list instead, %s=a,b", field, field)
		}
		switch {
		case strings.HasPrefix(value, "~"):
			m[field] = map[string]string{"regex": value[1:]}
		case strings.Contains(value, ","):
			m[field] = strings.Split(value, ",")
		default:
			m[field] = value
		}
	}
	return json.Marshal(m)
}

func printSilences(w io.Writer, ss []silence.Silence) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSILENCED\tGROUPS\tSTARTS\tENDS\tAUTHOR\tVIA\tCOMMENT\tMATCHERS")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, s.Silenced, s.Groups,
			s.StartsAt.UTC().Format(time.RFC3339), s.EndsAt.UTC().Format(time.RFC3339),
			oneLine(s.Author, 24), oneLine(s.Via, 8), oneLine(s.Comment, 48), oneLine(string(s.Matchers), 64))
	}
	return tw.Flush()
}
