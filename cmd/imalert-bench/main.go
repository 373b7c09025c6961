// Command imalert-bench is imalert's load harness. It starts the daemon
// (given its binary) on a generated config, sends it signed IM callbacks
// on loopback in a storm's mix, flat out or at a fixed rate, for a
// duration, and reports throughput, latency, errors, the daemon's peak
// memory, peak write-ahead log, bytes written and stored per callback, and
// how long the backlog, shutdown and a restart took. In the same
// invocation it runs a bare gin handler that reads, parses and answers the
// same traffic, and prints imalert's ratio to it.
//
//	go build -o /tmp/imalert ./cmd/imalert
//	go run ./cmd/imalert-bench -imalert /tmp/imalert -duration 30s
//	go run ./cmd/imalert-bench -imalert /tmp/imalert -duration 30s -rate 2000
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	imalert     string
	dir         string
	duration    time.Duration
	rate, conns int
	rules       int
	groups      int
	senders     int
	sync        string
	walMaxBytes int64
	bare        bool
	drain       time.Duration
	profile     string
	heapProfile string
	restart     bool
	bareAddr    string
	redis       string
	replicas    int
	rounds      int
	interleave  int
	budget      string // the console receiver's page budget, "PAGES/PER"; "": none
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("imalert-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.imalert, "imalert", "", "path of the imalert binary to start (required)")
	fs.StringVar(&o.dir, "dir", "", "working directory for config and data (default: a new temporary one, removed after)")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send, per server")
	fs.IntVar(&o.rate, "rate", 0, "requests per second; 0: flat out")
	fs.IntVar(&o.conns, "conns", 32, "concurrent connections")
	fs.IntVar(&o.rules, "rules", 1000, "rules in the generated config")
	fs.IntVar(&o.groups, "groups", 1000, "distinct groups in the traffic")
	fs.IntVar(&o.senders, "senders", 5000, "distinct senders in the traffic")
	fs.StringVar(&o.sync, "sync", "full", "journal.sync of the generated config")
	fs.Int64Var(&o.walMaxBytes, "wal-max-bytes", 0, "journal.wal_max_bytes of the generated config; 0: the default")
	fs.BoolVar(&o.bare, "bare", true, "also run the bare gin handler and print the ratio")
	fs.DurationVar(&o.drain, "drain", time.Minute, "how long to wait after the load for the backlog to be processed")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the daemon under load (pprof) to this file")
	fs.StringVar(&o.heapProfile, "heapprofile", "", "write the daemon's heap profile at the end of the load to this file")
	fs.BoolVar(&o.restart, "restart", true, "restart the daemon after the run and time its start")
	fs.StringVar(&o.bareAddr, "serve-bare", "", "internal: serve the bare handler on this address")
	fs.StringVar(&o.redis, "redis", "", "keep the decision state in the Redis at this host:port (state.backend: redis)")
	fs.StringVar(&o.budget, "budget", "", `give the receiver a page budget, "PAGES/PER" (for example 20/1m), as a chat receiver has by default`)
	fs.IntVar(&o.rounds, "rounds", 1, "run the bare handler and the daemon this many times, alternately, each daemon on a fresh data directory, and print the median ratios: the machine's speed drifts between runs")
	fs.IntVar(&o.interleave, "interleave", 0, "send to the bare handler and the daemon in turns, this many each of duration/N, both running throughout (order bare, daemon, daemon, bare, ...); 0: the bare handler's whole run, then the daemon's")
	fs.IntVar(&o.replicas, "replicas", 1, "start this many daemons on the one Redis of -redis and spread the connections over them")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.rounds < 1 || (o.rounds > 1 && (!o.bare || o.replicas > 1)) {
		fmt.Fprintln(stderr, "imalert-bench: -rounds must be 1 or more, and above 1 needs -bare and one replica")
		return o, errors.New("usage")
	}
	if o.interleave < 0 || o.interleave > 64 || (o.interleave > 0 && (!o.bare || o.replicas > 1)) {
		fmt.Fprintln(stderr, "imalert-bench: -interleave must be 0 to 64, and above 0 needs -bare and one replica")
		return o, errors.New("usage")
	}
	if o.replicas < 1 || o.replicas > 16 || (o.replicas > 1 && o.redis == "") {
		fmt.Fprintln(stderr, "imalert-bench: -replicas must be 1 to 16, and above 1 needs -redis")
		return o, errors.New("usage")
	}
	if o.bareAddr == "" && o.imalert == "" {
		fmt.Fprintln(stderr, "imalert-bench: -imalert is required")
		return o, errors.New("usage")
	}
	if o.duration <= 0 || o.duration > 30*time.Minute || o.conns < 1 || o.rate < 0 {
		fmt.Fprintln(stderr, "imalert-bench: -duration must be in (0, 30m], -conns at least 1, -rate at least 0")
		return o, errors.New("usage")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if err != nil {
		return 2
	}
	if o.bareAddr != "" {
		if err := serveBare(o.bareAddr); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	if err := bench(o, stdout); err != nil {
		fmt.Fprintln(stderr, "imalert-bench:", err)
		return 1
	}
	return 0
}

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// bench runs the bare handler, then the daemon, and prints the report.
func bench(o options, stdout io.Writer) error {
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "imalert-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	m := &mix{groups: o.groups, senders: o.senders, token: randomHex()}
	adminToken := randomHex()
	mode := "flat out"
	if o.rate > 0 {
		mode = fmt.Sprintf("at %d/s", o.rate)
	}
	fmt.Fprintf(stdout, "imalert-bench: %s %s, %d connections, %d rules, %d groups, %d senders, sync %s, %d replica(s)\n",
		o.duration, mode, o.conns, o.rules, o.groups, o.senders, o.sync, o.replicas)
	var sum roundsSummary
	for round := 1; round <= o.rounds; round++ {
		rdir := dir
		if o.rounds > 1 {
			fmt.Fprintf(stdout, "round %d of %d\n", round, o.rounds)
			rdir = filepath.Join(dir, fmt.Sprint("round", round))
			if err := os.MkdirAll(rdir, 0o755); err != nil {
				return err
			}
		}
		cfg, err := writeConfig(rdir, m.token, adminToken, o)
		if err != nil {
			return err
		}
		var bare *measured
		var tt *turns
		switch {
		case o.bare && o.interleave > 0:
			p, err := startBare(rdir)
			if err != nil {
				return err
			}
			tt = newTurns(o, m, p)
			bare = tt.bareOut
		case o.bare:
			if bare, err = benchBare(o, m, rdir); err != nil {
				return err
			}
			bare.print(stdout, "bare gin")
		}
		if o.replicas > 1 {
			return benchReplicas(o, m, cfg, rdir, adminToken, bare, stdout)
		}
		d, err := benchDaemon(o, m, cfg, rdir, adminToken, tt)
		if tt != nil {
			_, _ = tt.bare.stop(10 * time.Second)
		}
		if err != nil {
			return err
		}
		if tt != nil {
			fmt.Fprintf(stdout, "in %d turns each of %v: bare gin, imalert, imalert, bare gin, ...; imalert's CPU in bare gin's turns %v (%.1f%% of its CPU in all turns)\n",
				o.interleave, o.duration/time.Duration(o.interleave), tt.idleCPU, 100*tt.idleCPU.Seconds()/max(tt.daemonCPU.Seconds(), 1e-9))
			bare.print(stdout, "bare gin")
		}
		d.print(stdout, "imalert")
		if bare != nil {
			rate, cpu := sum.add(d, bare)
			fmt.Fprintf(stdout, "%-9s req/s %.2f of bare gin   CPU per callback %.2fx bare gin's\n", "ratio", rate, cpu)
		}
		d.printDaemon(stdout)
	}
	if o.rounds > 1 {
		sum.print(stdout)
	}
	return nil
}

// roundsSummary gathers each round's figures for the medians printed at
// the end: one round's p99, like its ratios, moves with the machine.
type roundsSummary struct {
	rates, cpus  []float64 // the daemon's to the bare handler's
	p99, bareP99 []float64 // milliseconds
	sentP99      []float64 // the daemon's, from when sent (at a fixed rate)
	within5ms    []float64 // the daemon's own share answered within 5 ms, in %
}

// add takes one round's daemon and bare handler and returns their ratios.
func (r *roundsSummary) add(d, bare *measured) (rate, cpu float64) {
	rate, cpu = d.res.rate()/bare.res.rate(), d.cpuPer().Seconds()/bare.cpuPer().Seconds()
	r.rates, r.cpus = append(r.rates, rate), append(r.cpus, cpu)
	ms := func(m *measured) float64 { return float64(m.res.pct(.99)) / float64(time.Millisecond) }
	r.p99, r.bareP99 = append(r.p99, ms(d)), append(r.bareP99, ms(bare))
	if len(d.res.FromSend) > 0 {
		r.sentP99 = append(r.sentP99, float64(percentile(d.res.FromSend, .99))/float64(time.Millisecond))
	}
	if d.answered > 0 {
		r.within5ms = append(r.within5ms, 100*d.within5ms/d.answered)
	}
	return rate, cpu
}

func (r *roundsSummary) print(w io.Writer) {
	rng := func(xs []float64, f string) string {
		return fmt.Sprintf(f+" ("+f+" to "+f+")", median(xs), slices.Min(xs), slices.Max(xs))
	}
	fmt.Fprintf(w, "median of %d rounds: req/s %s of bare gin   CPU per callback %sx bare gin's\n",
		len(r.rates), rng(r.rates, "%.2f"), rng(r.cpus, "%.2f"))
	fmt.Fprintf(w, "median of %d rounds: p99 %s ms, bare gin's %s ms", len(r.p99), rng(r.p99, "%.2f"), rng(r.bareP99, "%.2f"))
	if len(r.sentP99) > 0 {
		fmt.Fprintf(w, "   from when sent %s ms", rng(r.sentP99, "%.2f"))
	}
	if len(r.within5ms) > 0 {
		fmt.Fprintf(w, "   answered within 5ms, as the daemon measures it: %s%%", rng(r.within5ms, "%.2f"))
	}
	fmt.Fprintln(w)
}

// median is the middle value of xs (the mean of the middle two when even).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// measured is one server's run.
type measured struct {
	res         *result
	before, end procStats // end: after the load, and the backlog for the daemon
	peakWAL     int64
	maxLag      float64
	drained     time.Duration
	drainedOK   bool
	started     time.Duration
	restarted   time.Duration
	readyAfter  time.Duration // after the restart: /-/ready, once the de-duplication keys are back
	shutdown    time.Duration
	storedBytes int64
	batch       float64 // callbacks per journal commit, on average
	commits     float64 // journal commits
	slowCommits float64 // of which longer than 5ms
	answered    float64 // callbacks answered, as the daemon counts them
	within5ms   float64 // of which within 5 ms from headers read to answer written, as the daemon measures it
	folds       float64 // transactions moving logged callbacks into the database
	foldSecs    float64 // their total duration
	writes      float64 // other write transactions (processing, outbox)
	slowWrites  float64 // of which longer than 5ms
	writeSecs   float64 // their total duration
	restarts    float64 // restarting checkpoints, which hold writes back
	restartSecs float64 // their total duration
}

func (m *measured) switchesPer() float64 {
	if m.res.OK == 0 {
		return 0
	}
	return float64(m.end.Switches-m.before.Switches) / float64(m.res.OK)
}

func (m *measured) cpuPer() time.Duration {
	if m.res.OK == 0 {
		return 0
	}
	return (m.end.CPU - m.before.CPU) / time.Duration(m.res.OK)
}

func (m *measured) print(w io.Writer, name string) {
	r := m.res
	fmt.Fprintf(w, "%-9s req/s %7.0f   p50 %v p90 %v p99 %v max %v   sent %d, errors %d %v   CPU %v/callback   %.1f switches/callback\n",
		name, r.rate(), round(r.pct(.5)), round(r.pct(.9)), round(r.pct(.99)), round(r.pct(1)),
		r.Sent, r.Sent-r.OK, r.Errors, round(m.cpuPer()), m.switchesPer())
	if len(r.Late) > 0 {
		fmt.Fprintf(w, "%-9s sent after their due time (part of the latency above): p50 %v p99 %v max %v\n", "",
			round(percentile(r.Late, .5)), round(percentile(r.Late, .99)), round(percentile(r.Late, 1)))
		fmt.Fprintf(w, "%-9s from when sent to the answer: p50 %v p90 %v p99 %v max %v\n", "",
			round(percentile(r.FromSend, .5)), round(percentile(r.FromSend, .9)), round(percentile(r.FromSend, .99)), round(percentile(r.FromSend, 1)))
	}
}

func (m *measured) printDaemon(w io.Writer) {
	per := func(n int64) string {
		if m.res.OK == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f KiB", float64(n)/float64(m.res.OK)/1024)
	}
	fmt.Fprintf(w, "%-9s peak RSS %.1f MiB   peak WAL %.1f MiB   written %s/callback   stored %s/callback\n", "imalert",
		float64(m.end.HWM)/(1<<20), float64(m.peakWAL)/(1<<20), per(m.end.WriteBytes-m.before.WriteBytes), per(m.storedBytes))
	drained := fmt.Sprintf("%v after the load", round(m.drained))
	if !m.drainedOK {
		drained = "NOT within " + round(m.drained).String()
	}
	restarts := ""
	if m.restarts > 0 {
		restarts = fmt.Sprintf("   %.0f restarting checkpoints, %.1fms each on average", m.restarts, m.restartSecs/m.restarts*1000)
	}
	if m.answered > 0 {
		// The load generator's latency includes its own waits for a CPU it
		// shares with the daemon; the daemon's histogram does not.
		fmt.Fprintf(w, "%-9s answered within 5ms, as the daemon measures it (imalert_callback_duration_seconds): %.2f%%\n", "",
			100*m.within5ms/m.answered)
	}
	fmt.Fprintf(w, "%-9s %.1f callbacks per journal commit, %.0f of %.0f commits over 5ms%s\n", "", m.batch, m.slowCommits, m.commits, restarts)
	if m.writes > 0 && m.folds > 0 {
		fmt.Fprintf(w, "%-9s %.0f moves from the log into the database, %.1fms on average; %.0f other write transactions, %.1fms on average, %.0f over 5ms\n", "",
			m.folds, m.foldSecs/m.folds*1000, m.writes, m.writeSecs/m.writes*1000, m.slowWrites)
	}
	fmt.Fprintf(w, "%-9s max lag %.2fs   backlog processed %s   SIGTERM to exit %v   start %v (empty), %v (after the run; ready %v)\n", "",
		m.maxLag, drained, round(m.shutdown), round(m.started), round(m.restarted), round(m.readyAfter))
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// startBare starts the bare handler: this program, in a process of its
// own.
func startBare(dir string) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p, _, err := start(self, []string{"-serve-bare", "127.0.0.1:0"}, filepath.Join(dir, "bare.log"))
	return p, err
}

func benchBare(o options, m *mix, dir string) (*measured, error) {
	p, err := startBare(dir)
	if err != nil {
		return nil, err
	}
	defer func() { _, _ = p.stop(10 * time.Second) }()
	out := &measured{}
	out.before, _ = readProc(p.pid())
	out.res = load(context.Background(), m, loadOptions{URL: "http://" + p.addr + "/callback", Conns: o.conns, Rate: o.rate, Duration: o.duration})
	out.end, err = readProc(p.pid())
	return out, err
}
