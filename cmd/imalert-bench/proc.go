package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// procStats reads a process's counters from /proc (Linux).
type procStats struct {
	CPU        time.Duration // user + system
	WriteBytes int64         // /proc/PID/io write_bytes: what it caused to be written to disk
	RSS, HWM   int64         // resident set size now and at its peak, bytes
	// Switches counts the times its threads gave up a CPU, voluntarily or
	// not, summed over the threads alive now. In a VM a thread's sleep and
	// wake-up costs tens of µs: at a moderate rate these, more than the
	// work, make up the CPU per callback.
	Switches int64
}

func readProc(pid int) (procStats, error) {
	var ps procStats
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ps, err
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 13 {
		return ps, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	ps.CPU = time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
	if err := scanKV(fmt.Sprintf("/proc/%d/io", pid), func(k, v string) {
		if k == "write_bytes" {
			ps.WriteBytes, _ = strconv.ParseInt(v, 10, 64)
		}
	}); err != nil {
		return ps, err
	}
	err = scanKV(fmt.Sprintf("/proc/%d/status", pid), func(k, v string) {
		n, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		switch k {
		case "VmRSS":
			ps.RSS = n << 10
		case "VmHWM":
			ps.HWM = n << 10
		}
	})
	if err != nil {
		return ps, err
	}
	ps.Switches, err = switches(pid)
	return ps, err
}

// switches sums the switches of pid's threads alive now: a thread that
// ended takes its count with it (the daemon's threads live as long as it).
func switches(pid int) (int64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var n int64
	for _, t := range tasks {
		c, _ := taskSwitches(pid, t.Name()) // a thread that ended meanwhile counts 0
		n += c
	}
	return n, nil
}

// taskSwitches reads the switches of one thread of pid.
func taskSwitches(pid int, task string) (int64, error) {
	var n int64
	err := scanKV(fmt.Sprintf("/proc/%d/task/%s/status", pid, task), func(k, v string) {
		if k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches" {
			c, _ := strconv.ParseInt(v, 10, 64)
			n += c
		}
	})
	return n, err
}

func scanKV(path string, fn func(k, v string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			fn(k, strings.TrimSpace(v))
		}
	}
	return sc.Err()
}

// sampler records the peak of the write-ahead log's size while running.
type sampler struct {
	walPath string
	stop    chan struct{}
	done    chan struct{}
	peakWAL int64
}

func startSampler(walPath string) *sampler {
	s := &sampler{walPath: walPath, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if fi, err := os.Stat(s.walPath); err == nil && fi.Size() > s.peakWAL {
				s.peakWAL = fi.Size()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop stops sampling and returns the peak.
func (s *sampler) Stop() int64 {
	close(s.stop)
	<-s.done
	return s.peakWAL
}
