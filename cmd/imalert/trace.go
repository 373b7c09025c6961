package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/imalert/imalert/alert/trace"
)

// traceCmd prints the decision trace of one event (trace ID) or of recent
// events (trace --group G ...), read from a running daemon's API.
func traceCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseTraceFlags(args, stderr)
	if err != nil {
		return err
	}
	c := &apiClient{name: "trace", base: f.base}
	if err := c.setup(f.config, "", ""); err != nil {
		printErrors(stderr, err)
		return errReported
	}
	c.http.Timeout = 30 * time.Second
	var body json.RawMessage
	if err := c.do(ctx, http.MethodGet, f.path(), nil, &body); err != nil {
		return err
	}
	if f.json {
		_, err := stdout.Write(body)
		return err
	}
	var evs []trace.Event
	if f.id != "" {
		var ev trace.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			return fmt.Errorf("trace: bad answer: %w", err)
		}
		evs = append(evs, ev)
	} else {
		var p trace.Page
		if err := json.Unmarshal(body, &p); err != nil {
			return fmt.Errorf("trace: bad answer: %w", err)
		}
		evs = p.Events
	}
	for i, ev := range evs {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printTrace(stdout, ev)
	}
	return nil
}

// traceFlags are imalert trace's arguments.
type traceFlags struct {
	config, base, id string
	filter           map[string]string // query parameter → value
	limit            int
	json             bool
}

func parseTraceFlags(args []string, stderr io.Writer) (*traceFlags, error) {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &traceFlags{}
	fs.StringVar(&f.config, "config", "", "config file, for the admin address and token")
	fs.StringVar(&f.base, "url", "", "the daemon's admin URL (default: from the config, else http://127.0.0.1:8080)")
	group := fs.String("group", "", "only events of this GroupId")
	from := fs.String("from", "", "only events from this From_Account")
	code := fs.String("code", "", "only events with this ErrorCode")
	rule := fs.String("rule", "", "only events that matched this rule")
	since := fs.String("since", "", "only events received since (RFC 3339, or a duration such as 1h)")
	fs.IntVar(&f.limit, "limit", 20, "at most this many events, newest first")
	fs.BoolVar(&f.json, "json", false, "print the API's JSON")
	// Flags may follow the event id.
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		f.id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return nil, errUsage
	}
	if f.id == "" && fs.NArg() == 1 {
		f.id = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "trace: unexpected argument %q\n", fs.Arg(0))
		return nil, errUsage
	}
	if f.id != "" {
		if _, err := strconv.ParseInt(f.id, 10, 64); err != nil {
			fmt.Fprintf(stderr, "trace: %q is not an event id\n", f.id)
			return nil, errUsage
		}
	}
	f.filter = map[string]string{"group_id": *group, "from_account": *from, "error_code": *code, "rule": *rule, "since": *since}
	return f, nil
}

// path is the API path f asks for.
func (f *traceFlags) path() string {
	if f.id != "" {
		return "/api/v1/events/" + f.id
	}
	q := url.Values{}
	for k, v := range f.filter {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", strconv.Itoa(f.limit))
	return "/api/v1/events?" + q.Encode()
}

// printTrace prints one event and its trace for a terminal.
func printTrace(w io.Writer, ev trace.Event) {
	code := "-"
	if ev.ErrorCode != nil {
		code = strconv.FormatInt(*ev.ErrorCode, 10)
	}
	fmt.Fprintf(w, "event %d  %s  request %s\n", ev.ID, ev.ReceivedAt.UTC().Format(time.RFC3339Nano), ev.RequestID)
	fmt.Fprintf(w, "  %s  code %s  group %s  from %s\n", oneLine(ev.Command, 60), code, oneLine(ev.GroupID, 60), oneLine(ev.FromAccount, 60))
	if ev.ParseError != "" {
		fmt.Fprintf(w, "  no longer parses: %s\n", oneLine(ev.ParseError, 120))
	}
	if len(ev.Matches) == 0 {
		fmt.Fprintln(w, "  no rule matched")
	}
	for _, m := range ev.Matches {
		src := ""
		if m.File != "" {
			src = fmt.Sprintf(" (%s:%d)", m.File, m.Line)
		}
		fmt.Fprintf(w, "  rule %s%s: %s — %s\n", m.Rule, src, m.Decision, oneLine(m.Detail, 120))
	}
	for _, n := range ev.Notifications {
		fmt.Fprintf(w, "  page %s → %s: %s, %d attempts\n", n.ID, n.Receiver, n.State, n.Attempts)
		for _, a := range n.AttemptLog {
			fmt.Fprintf(w, "    %s %s %s\n", a.At.UTC().Format(time.RFC3339), a.Result, oneLine(a.Error, 100))
		}
	}
}
