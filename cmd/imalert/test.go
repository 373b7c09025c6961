package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/console"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
	"github.com/imalert/imalert/reload"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/server"
	"github.com/imalert/imalert/store"
)

// dryRun is `imalert test`: it runs a file of callbacks, or the journal's
// recent history, through the server's checks and the rules, decisions and
// renderers serve would use, prints what would happen to each and sends
// nothing. With --expect it compares its output with a golden file and
// fails on any difference.
func dryRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseDryFlags(args, stderr)
	if err != nil {
		return err
	}
	s, err := reload.LoadWith(f.config, reload.WithoutSecrets)
	if err != nil {
		printErrors(stderr, err)
		return errReported
	}
	for _, w := range s.Config.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	var out bytes.Buffer
	d := newDry(s, &out, f.at)
	bad := 0
	if f.fromJournal {
		dir := s.Config.DataDir
		if f.dataDir != "" {
			dir = f.dataDir
		}
		d.name = "journal"
		if bad, err = d.runJournal(ctx, dir, time.Now().Add(-f.since)); err != nil {
			return fmt.Errorf("test: %w", err)
		}
	} else {
		file, err := os.Open(f.events)
		if err != nil {
			return fmt.Errorf("test: %w", err)
		}
		defer file.Close()
		d.name = f.events
		bad = d.run(file)
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		return err
	}
	if f.expect != "" {
		if err := expectOutput(stderr, f.expect, out.String()); err != nil {
			return err
		}
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "test: %d line(s) of %s could not be read\n", bad, d.name)
		return errReported
	}
	return nil
}

// dryFlags are the command line of imalert test.
type dryFlags struct {
	config, expect, dataDir string
	events                  string    // the events file, unless fromJournal
	at                      time.Time // time of the first event without received_at
	fromJournal             bool
	since                   time.Duration
}

func parseDryFlags(args []string, stderr io.Writer) (*dryFlags, error) {
	f := &dryFlags{}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "config file (default: the built-in config and rules)")
	at := fs.String("at", "", "time of the first event without received_at, RFC 3339 (default: now)")
	fs.StringVar(&f.expect, "expect", "", "golden file the output must equal")
	fs.BoolVar(&f.fromJournal, "from-journal", false, "read the callbacks from the journal in data_dir instead of a file")
	since := fs.String("since", "24h", "with --from-journal: how far back to read (e.g. 30m, 24h, 7d)")
	fs.StringVar(&f.dataDir, "data-dir", "", "with --from-journal: data directory, overriding the config's data_dir")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: imalert test [--config FILE] [--at RFC3339] [--expect FILE] EVENTS.jsonl")
		fmt.Fprintln(stderr, "       imalert test [--config FILE] --from-journal [--since 24h] [--data-dir DIR] [--expect FILE]")
		fs.PrintDefaults()
	}
	// Flags may follow the events file, as in the documented synopsis.
	var events []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		events = append(events, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if (f.fromJournal && len(events) != 0) || (!f.fromJournal && len(events) != 1) {
		fs.Usage()
		return nil, errUsage
	}
	if len(events) == 1 {
		f.events = events[0]
	}
	var err error
	if f.since, err = yamlfile.ParseDuration(*since); err != nil {
		fmt.Fprintf(stderr, "test: --since: %v\n", err)
		return nil, errUsage
	}
	f.at = time.Now().UTC().Truncate(time.Second)
	if *at != "" {
		if f.at, err = time.Parse(time.RFC3339, *at); err != nil {
			fmt.Fprintf(stderr, "test: --at: want an RFC 3339 time such as 2026-11-25T14:03:07Z, got %q\n", *at)
			return nil, errUsage
		}
	}
	return f, nil
}

// expectOutput compares got with the golden file at path and prints the
// difference: lines compare whole, so a changed line reads as the
// expected line, then the line got.
func expectOutput(stderr io.Writer, path, got string) error {
	want, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("test: --expect: %w", err)
	}
	wholeLines := cmp.Comparer(func(a, b string) bool { return a == b })
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n"), wholeLines); diff != "" {
		fmt.Fprintf(stderr, "test: output differs from %s (- expected, + got):\n%s", path, diff)
		return errReported
	}
	return nil
}

// dry holds one dry run's state: the decision state carries from event to
// event, as in the daemon.
type dry struct {
	setup     *reload.Set
	pipeline  *alert.Pipeline
	admission server.Admission // the server's checks of a callback
	w         io.Writer
	name      string
	now       time.Time // time of the previous event
	buf       []*rules.Rule
	receivers map[string]dryReceiver // by name
}

// dryReceiver is a configured receiver's type and its notifier, built as
// serve builds it; the dry run only asks it for previews.
type dryReceiver struct {
	kind     string
	notifier notify.Notifier
}

// newDry returns a dry run of s writing to w; at is the time of the
// first event without received_at.
func newDry(s *reload.Set, w io.Writer, at time.Time) *dry {
	d := &dry{
		setup:     s,
		pipeline:  alert.NewPipeline(alert.PipelineOptions{Rules: s.Rules, Catalogue: s.Catalogue, MaxKeys: s.Config.Throttle.MaxKeys}),
		admission: s.Admission(),
		w:         w,
		now:       at,
		receivers: make(map[string]dryReceiver),
	}
	// Constructing a notifier opens no connection: nothing is sent.
	for i, dst := range s.Destinations(console.New(io.Discard)) {
		d.receivers[dst.Name] = dryReceiver{kind: s.Config.Receivers[i].Type, notifier: dst.Notifier}
	}
	return d
}

// maxLine bounds one line of the events file: a body of the largest size
// the server accepts plus room for the envelope.
func (d *dry) maxLine() int { return int(d.setup.Config.Server.MaxBodyBytes) + 64<<10 }

// run processes every line and returns how many could not be read.
func (d *dry) run(r io.Reader) (bad int) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), d.maxLine())
	line, n := 0, 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		n++
		if err := d.event(n, line, text); err != nil {
			bad++
			fmt.Fprintf(d.w, "event %d (%s:%d): cannot read: %v\n\n", n, d.name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		bad++
		fmt.Fprintf(d.w, "%s:%d: cannot read: %v\n", d.name, line+1, err)
	}
	return bad
}

// runJournal runs every journaled callback received since since, oldest
// first, each at its receive time. The database is opened read-only, so
// this runs beside a serving daemon. It returns how many entries could not
// be read.
func (d *dry) runJournal(ctx context.Context, dir string, since time.Time) (int, error) {
	st, err := store.Open(ctx, store.Options{Dir: dir, ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	// Each event meets the silences active when it was received.
	silences, err := silence.Open(ctx, silence.Options{Store: st})
	if err != nil {
		return 0, err
	}
	d.pipeline.SetSilences(silences)
	n, bad := 0, 0
	err = st.EventsSince(ctx, since, func(e store.Event) error {
		n++
		q, err := url.ParseQuery(e.Raw.Query)
		if err != nil {
			bad++
			fmt.Fprintf(d.w, "event %d (journal #%d): cannot read its query\n\n", n, e.ID)
			return nil
		}
		d.now = e.Raw.ReceivedAt
		d.callback(fmt.Sprintf("journal #%d", e.ID), n, e.Raw.ReceivedAt, q, e.Raw.Body)
		return nil
	})
	if n == 0 && err == nil {
		fmt.Fprintf(d.w, "no callbacks in the journal of %s since %s\n", dir, since.UTC().Format(time.RFC3339))
	}
	return bad, err
}

// envelope is a line with the query and the time beside the body.
type envelope struct {
	Query      map[string]json.RawMessage `json:"query"`
	Body       json.RawMessage            `json:"body"`
	ReceivedAt string                     `json:"received_at"`
}

// event runs one line. An error means the line itself is malformed; a
// callback the server would refuse is reported, not an error.
func (d *dry) event(n, line int, text []byte) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(text, &probe); err != nil {
		return errors.New("not a JSON object")
	}
	env := envelope{Body: text}
	if _, ok := probe["body"]; ok {
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil {
			return fmt.Errorf("envelope: want {\"query\": {...}, \"body\": {...}, \"received_at\": ...}: %v", err)
		}
	}
	at, err := d.receivedAt(env.ReceivedAt)
	if err != nil {
		return err
	}
	d.now = at
	q := url.Values{}
	for k, v := range env.Query {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v) // numbers as written
		}
		q.Set(k, s)
	}
	// A bare body: the first configured app, and the body's command.
	if q.Get("SdkAppid") == "" && len(d.setup.Config.Apps) > 0 {
		q.Set("SdkAppid", strconv.FormatUint(d.setup.Config.Apps[0].SdkAppID, 10))
	}
	if q.Get("CallbackCommand") == "" {
		var b struct {
			CallbackCommand string `json:"CallbackCommand"`
		}
		_ = json.Unmarshal(env.Body, &b)
		q.Set("CallbackCommand", b.CallbackCommand)
	}
	d.callback(fmt.Sprintf("%s:%d", d.name, line), n, at, q, env.Body)
	return nil
}

// callback runs one callback received at at, from where, through what the
// server checks and then the rules, and prints what would happen.
func (d *dry) callback(where string, n int, at time.Time, q url.Values, body []byte) {
	fmt.Fprintf(d.w, "event %d (%s) at %s\n", n, where, at.UTC().Format(time.RFC3339Nano))
	evs, refusal := d.accept(q, body)
	if refusal != "" {
		fmt.Fprintf(d.w, "  refused by the server: %s\n\n", refusal)
		return
	}
	for _, ev := range evs { // several for a Push.* batch
		ev.ReceivedAt = at
		fmt.Fprintf(d.w, "  %s\n", describe(ev))
		var outs []alert.Outcome
		outs, d.buf = d.pipeline.Evaluate(ev, d.buf[:0])
		if len(outs) == 0 {
			fmt.Fprintf(d.w, "  no rule matched\n")
		}
		for _, o := range outs {
			d.outcome(o, at)
		}
	}
	fmt.Fprintln(d.w)
}

// receivedAt reads received_at: RFC 3339, "+DURATION" after the previous
// event, or nothing for the previous event's time.
func (d *dry) receivedAt(s string) (time.Time, error) {
	switch {
	case s == "":
		return d.now, nil
	case strings.HasPrefix(s, "+"):
		dur, err := time.ParseDuration(s[1:])
		if err != nil || dur < 0 {
			return time.Time{}, fmt.Errorf("received_at: want an RFC 3339 time or +DURATION, got %q", s)
		}
		return d.now.Add(dur), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("received_at: want an RFC 3339 time or +DURATION, got %q", s)
	}
	return t, nil
}

// accept checks a callback as the server does, with the configured limits,
// and returns the events it carries; refusal says why the server would
// answer it with an error. Signatures are not checked: recorded callbacks
// are long past the freshness window.
func (d *dry) accept(q url.Values, body []byte) ([]*callback.Event, string) {
	query, refused := d.admission.Envelope(q)
	if refused == nil {
		var items []callback.Item
		if items, refused = d.admission.Events(query, body); refused == nil {
			evs := make([]*callback.Event, len(items))
			for i, it := range items {
				evs[i] = it.Event
			}
			return evs, ""
		}
	}
	return nil, fmt.Sprintf("%d %s", refused.Status, refused.Info)
}

// describe is one line naming the event's command and key fields.
func describe(ev *callback.Event) string {
	parts := []string{ev.Command, "app " + strconv.FormatUint(ev.AppID, 10)}
	for _, f := range []string{callback.NameErrorCode, callback.NameGroupID, callback.NameType, callback.NameFromAccount} {
		if v, ok := ev.Field(f); ok {
			if f != callback.NameErrorCode {
				v = strconv.Quote(page.Clean(v, 64))
			}
			parts = append(parts, f+" "+v)
		}
	}
	return strings.Join(parts, " · ")
}

func (d *dry) outcome(o alert.Outcome, now time.Time) {
	r, dec := o.Rule, o.Decision
	key := ""
	if o.Key != "" {
		key = " key " + page.Clean(o.Key, 200)
	}
	fmt.Fprintf(d.w, "  rule %s (%s:%d)%s\n", r.Name, r.File, r.Line, key)
	fmt.Fprintf(d.w, "    decision: %s\n", decision(r, dec, now))
	if o.RenderErr != nil {
		fmt.Fprintf(d.w, "    template failed, standard layout used: %v\n", o.RenderErr)
	}
	for _, n := range o.Notifications {
		d.rendered(n)
	}
}

// decision says what was decided, why, and for how long it holds.
func decision(r *rules.Rule, d alert.Decision, now time.Time) string {
	left := func(until time.Time) string {
		return page.Duration(until.Sub(now)) + " left (until " + until.UTC().Format("15:04:05 MST") + ")"
	}
	threshold := ""
	if r.Threshold.Count > 0 {
		threshold = fmt.Sprintf(", threshold %d of %d within %s", d.Count, r.Threshold.Count, page.Duration(r.Threshold.Within))
	}
	switch d.Reason {
	case notify.ReasonThrottled:
		return fmt.Sprintf("held (%s): %d suppressed in this %s window, %s%s", d.Reason, d.Suppressed, page.Duration(d.Window), left(d.Until), threshold)
	case notify.ReasonBelowThreshold:
		return fmt.Sprintf("held (%s): %d of %d within %s", d.Reason, d.Count, r.Threshold.Count, page.Duration(r.Threshold.Within))
	case notify.ReasonSeenBefore:
		return fmt.Sprintf("held (%s): this key paged before%s", d.Reason, threshold)
	case notify.ReasonFirstSeen:
		return fmt.Sprintf("page (%s): later events with this key do not page%s", d.Reason, threshold)
	case notify.ReasonNoWindow:
		return fmt.Sprintf("page (%s)%s", d.Reason, threshold)
	case notify.ReasonDigest:
		return fmt.Sprintf("counted (%s): into the rule's summary every %s, no page per event", d.Reason, page.Duration(r.Digest))
	case notify.ReasonSilenced:
		return fmt.Sprintf("held (%s): an active silence matches; counted for it, never paged", d.Reason)
	}
	s := fmt.Sprintf("page (%s): repeats held back for %s, %s%s", d.Reason, page.Duration(d.Window), left(d.Until), threshold)
	if c := d.Carried; c.Suppressed > 0 {
		s += fmt.Sprintf("; carries %d suppressed from %s to %s", c.Suppressed, c.First.UTC().Format("15:04:05"), c.Last.UTC().Format("15:04:05 MST"))
	}
	return s
}

// rendered prints n as its receiver's notifier previews it.
func (d *dry) rendered(n *notify.Notification) {
	r, ok := d.receivers[n.Receiver]
	if !ok {
		fmt.Fprintf(d.w, "    to %s: no such receiver\n", n.Receiver)
		return
	}
	fmt.Fprintf(d.w, "    to %s (%s):\n", n.Receiver, r.kind)
	p, ok := r.notifier.(notify.Previewer)
	if !ok {
		writeField(d.w, "", "no preview for this receiver")
		return
	}
	for _, f := range p.Preview(n) {
		writeField(d.w, f.Label, f.Value)
	}
}

// writeField prints a labelled value; lines after the first are indented
// under it.
func writeField(w io.Writer, label, value string) {
	prefix := "      "
	if label != "" {
		prefix += label + ": "
	}
	cont := strings.Repeat(" ", len(prefix))
	for i, l := range strings.Split(value, "\n") {
		if i == 0 {
			fmt.Fprintf(w, "%s%s\n", prefix, l)
		} else {
			fmt.Fprintf(w, "%s%s\n", cont, l)
		}
	}
}
