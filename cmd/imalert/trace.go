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
	"strconv"
	"strings"
	"time"

	"github.com/imalert/imalert/alert/trace"
	"github.com/imalert/imalert/config"
)

// traceCmd prints the decision trace of one event (trace ID) or of recent
// events (trace --group G ...), read from a running daemon's API.
func traceCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file, for the admin address and token")
	base := fs.String("url", "", "the daemon's admin URL (default: from the config, else http://127.0.0.1:8080)")
	group := fs.String("group", "", "only events of this GroupId")
	from := fs.String("from", "", "only events from this From_Account")
	code := fs.String("code", "", "only events with this ErrorCode")
	rule := fs.String("rule", "", "only events that matched this rule")
	since := fs.String("since", "", "only events received since (RFC 3339, or a duration such as 1h)")
	limit := fs.Int("limit", 20, "at most this many events, newest first")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	// Flags may follow the event id.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "trace: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	cfg := config.Default()
	if *path != "" {
		var err error
		if cfg, err = config.Load(*path); cfg == nil {
			printErrors(stderr, err)
			return errReported
		}
	}
	if *base == "" {
		addr := cfg.Listen
		if cfg.Admin.Listen != "" {
			addr = cfg.Admin.Listen
		}
		*base = "http://" + addr
	}
	token := os.Getenv("IMALERT_ADMIN_TOKEN")
	if token == "" {
		token = cfg.Admin.Token.Reveal()
	}
	u := strings.TrimRight(*base, "/") + "/api/v1/events"
	if id != "" {
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			fmt.Fprintf(stderr, "trace: %q is not an event id\n", id)
			return errUsage
		}
		u += "/" + id
	} else {
		q := url.Values{}
		for k, v := range map[string]string{"group_id": *group, "from_account": *from, "error_code": *code, "rule": *rule, "since": *since} {
			if v != "" {
				q.Set(k, v)
			}
		}
		q.Set("limit", strconv.Itoa(*limit))
		u += "?" + q.Encode()
	}
	body, err := getAPI(ctx, u, token)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	if *asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var evs []trace.Event
	if id != "" {
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

// getAPI GETs u with the admin token and returns the body of a 200.
func getAPI(ctx context.Context, u, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error     string `json:"error"`
			ErrorInfo string `json:"ErrorInfo"`
		}
		_ = json.Unmarshal(body, &e)
		msg := e.Error + e.ErrorInfo
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return nil, errors.New(resp.Status + ": " + oneLine(msg, 200))
	}
	return body, nil
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
