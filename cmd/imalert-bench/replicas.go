package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"
)

// benchReplicas starts o.replicas daemons on one config (its Redis), each
// with its own data directory, loads them together, waits for every
// backlog and stops them. It prints the whole system's figures: requests
// per second over all replicas, CPU summed over their processes.
func benchReplicas(o options, m *mix, cfg, dir, adminToken string, bare *measured, stdout io.Writer) error {
	var ps []*process
	defer func() {
		for _, p := range ps {
			_, _ = p.stop(2 * time.Minute)
		}
	}()
	var urls []string
	for i := range o.replicas {
		name := "replica" + strconv.Itoa(i+1)
		args := []string{"serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data-"+name)}
		p, _, err := start(o.imalert, args, filepath.Join(dir, name+".log"))
		if err != nil {
			return err
		}
		ps = append(ps, p)
		urls = append(urls, "http://"+p.addr+"/callback")
	}
	out := &measured{}
	for _, p := range ps {
		st, _ := readProc(p.pid())
		out.before.CPU += st.CPU
		out.before.Switches += st.Switches
	}
	ctx, cancel := context.WithCancel(context.Background())
	lags := make([]float64, len(ps))
	lagDone := make(chan struct{}, len(ps))
	for i, p := range ps {
		go func() { lags[i] = watchLag(ctx, p.addr, adminToken); lagDone <- struct{}{} }()
	}
	out.res = load(context.Background(), m, loadOptions{URLs: urls, Conns: o.conns, Rate: o.rate, Duration: o.duration})
	out.drainedOK = true
	for _, p := range ps {
		d, ok := waitBacklog(p.addr, adminToken, o.drain)
		out.drained, out.drainedOK = max(out.drained, d), out.drainedOK && ok
	}
	cancel()
	for range ps {
		<-lagDone
	}
	conflicts := 0.0
	for i, p := range ps {
		st, err := readProc(p.pid())
		if err != nil {
			return err
		}
		out.end.CPU += st.CPU
		out.end.Switches += st.Switches
		out.end.HWM = max(out.end.HWM, st.HWM)
		out.maxLag = max(out.maxLag, lags[i])
		c, _ := metric(context.Background(), p.addr, adminToken, "imalert_state_claim_conflicts_total")
		conflicts += max(c, 0)
	}
	out.print(stdout, "imalert×"+strconv.Itoa(o.replicas))
	if bare != nil {
		fmt.Fprintf(stdout, "%-9s req/s %.2f of bare gin\n", "ratio", out.res.rate()/bare.res.rate())
	}
	drained := fmt.Sprintf("%v after the load", round(out.drained))
	if !out.drainedOK {
		drained = "NOT within " + round(out.drained).String()
	}
	fmt.Fprintf(stdout, "%-9s largest peak RSS %.1f MiB   max lag %.2fs   every backlog processed %s   %.0f claim conflicts\n", "",
		float64(out.end.HWM)/(1<<20), out.maxLag, drained, conflicts)
	return nil
}
