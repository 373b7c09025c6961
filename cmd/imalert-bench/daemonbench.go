package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// benchDaemon starts imalert, loads it, waits for its backlog, stops it and
// times a restart. With tt, the load takes turns with the bare handler's.
func benchDaemon(o options, m *mix, cfg, dir, adminToken string, tt *turns) (*measured, error) {
	args := []string{"serve", "--config", cfg}
	logPath := filepath.Join(dir, "imalert.log")
	p, started, err := start(o.imalert, args, logPath)
	if err != nil {
		return nil, err
	}
	out := &measured{started: started}
	db := filepath.Join(dir, "data", "imalert.db")
	wal := startSampler(db + "-wal")
	out.before, _ = readProc(p.pid())
	ctx, cancel := context.WithCancel(context.Background())
	lagDone := make(chan struct{})
	go func() { defer close(lagDone); out.maxLag = watchLag(ctx, p.addr, adminToken) }()
	if o.cpuprofile() {
		go func() { _ = fetch(p.addr, adminToken, "profile", int(o.duration/time.Second)-1, o.profile) }()
	}
	url := "http://" + p.addr + "/callback"
	if tt != nil {
		out.res = tt.run(url, p.pid(), func() { waitBacklog(p.addr, adminToken, o.drain) })
	} else {
		out.res = load(context.Background(), m, loadOptions{URL: url, Conns: o.conns, Rate: o.rate, Duration: o.duration})
	}
	if o.heapProfile != "" {
		if err := fetch(p.addr, adminToken, "heap", 0, o.heapProfile); err != nil {
			fmt.Fprintln(os.Stderr, "imalert-bench: heap profile:", err)
		}
	}
	out.drained, out.drainedOK = waitBacklog(p.addr, adminToken, o.drain)
	cancel()
	<-lagDone
	sum, _ := metric(context.Background(), p.addr, adminToken, "imalert_journal_commit_batch_size_sum")
	count, _ := metric(context.Background(), p.addr, adminToken, "imalert_journal_commit_batch_size_count")
	if count > 0 {
		out.batch = sum / count
	}
	out.commits, _ = metric(context.Background(), p.addr, adminToken, "imalert_journal_commit_duration_seconds_count")
	fast, _ := metric(context.Background(), p.addr, adminToken, `imalert_journal_commit_duration_seconds_bucket{le="0.005"}`)
	out.slowCommits = out.commits - fast
	out.answered, _ = metric(context.Background(), p.addr, adminToken, "imalert_callback_duration_seconds_count")
	out.within5ms, _ = metric(context.Background(), p.addr, adminToken, `imalert_callback_duration_seconds_bucket{le="0.005"}`)
	out.folds, _ = metric(context.Background(), p.addr, adminToken, "imalert_journal_fold_duration_seconds_count")
	out.foldSecs, _ = metric(context.Background(), p.addr, adminToken, "imalert_journal_fold_duration_seconds_sum")
	out.writes, _ = metric(context.Background(), p.addr, adminToken, "imalert_store_write_duration_seconds_count")
	fastWrites, _ := metric(context.Background(), p.addr, adminToken, `imalert_store_write_duration_seconds_bucket{le="0.005"}`)
	out.slowWrites = out.writes - fastWrites
	out.writeSecs, _ = metric(context.Background(), p.addr, adminToken, "imalert_store_write_duration_seconds_sum")
	out.restarts, _ = metric(context.Background(), p.addr, adminToken, `imalert_store_checkpoint_duration_seconds_count{mode="RESTART"}`)
	out.restartSecs, _ = metric(context.Background(), p.addr, adminToken, `imalert_store_checkpoint_duration_seconds_sum{mode="RESTART"}`)
	out.end, err = readProc(p.pid())
	if err != nil {
		return nil, err
	}
	out.peakWAL = wal.Stop()
	if out.shutdown, err = p.stop(2 * time.Minute); err != nil {
		return nil, err
	}
	if o.restart {
		began := time.Now()
		p, out.restarted, err = start(o.imalert, args, logPath+".restart")
		if err != nil {
			return nil, err
		}
		waitReady(p.addr, 2*time.Minute)
		out.readyAfter = time.Since(began)
		if _, err := p.stop(2 * time.Minute); err != nil {
			return nil, err
		}
	}
	if fi, err := os.Stat(db); err == nil {
		out.storedBytes = fi.Size()
	}
	return out, nil
}

// waitReady polls /-/ready until it answers 200 or timeout passes: after
// listening, a restarted daemon reads back its de-duplication keys.
func waitReady(addr string, timeout time.Duration) {
	began := time.Now()
	for time.Since(began) < timeout {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lagEvery spaces the reads of /metrics during the load: each costs the
// daemon 10 to 20 ms of CPU with 1,000 rules (their match-time
// histograms), as much as 10 to 20 µs per callback at 1,000/s if read
// every second. The lag moves in a cycle of about 200 ms, so a sample
// every 2 s sees its peaks.
const lagEvery = 2 * time.Second

func (o options) cpuprofile() bool { return o.profile != "" && o.duration >= 3*time.Second }

// watchLag polls the lag gauge every lagEvery until ctx ends and returns
// the largest value seen.
func watchLag(ctx context.Context, addr, adminToken string) float64 {
	var peak float64
	t := time.NewTicker(lagEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return peak
		case <-t.C:
			if v, err := metric(ctx, addr, adminToken, "imalert_journal_lag_seconds"); err == nil && v > peak {
				peak = v
			}
		}
	}
}

// waitBacklog waits until no acknowledged callback waits for processing,
// or until limit, and says how long it took.
func waitBacklog(addr, adminToken string, limit time.Duration) (time.Duration, bool) {
	began := time.Now()
	for time.Since(began) < limit {
		if v, err := metric(context.Background(), addr, adminToken, "imalert_journal_unprocessed_events"); err == nil && v == 0 {
			return time.Since(began), true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return limit, false
}
