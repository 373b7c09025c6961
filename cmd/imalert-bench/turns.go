package main

import (
	"context"
	"time"
)

// turns sends the load to the bare handler and the daemon in turns
// (-interleave N): each gets N turns of duration/N, in the order bare,
// daemon, daemon, bare, and so on, so that both see the same minutes of
// the machine. Its speed moves by more than 10% between runs a minute
// apart, more than the ratio's margin; within one invocation the two
// servers then meet the same drift. Both processes run the whole time,
// each idle in the other's turns. A daemon's turn ends once its backlog is
// processed; what work it still leaves (a checkpoint, say) is counted in
// idleCPU.
type turns struct {
	o    options
	m    *mix
	bare *process
	// bareOut gathers the bare handler's turns: its requests, and the CPU
	// and switches of those turns only (before stays zero).
	bareOut *measured
	// idleCPU is the daemon's CPU during the bare handler's turns: work
	// left over from its own turns (a checkpoint, say) that competed with
	// the bare handler's load instead of its own.
	idleCPU, daemonCPU time.Duration
}

func newTurns(o options, m *mix, bare *process) *turns {
	return &turns{o: o, m: m, bare: bare, bareOut: &measured{res: &result{Errors: map[string]int{}}}}
}

// bareTurn is whether turn i (from 0) is the bare handler's: 0, 3, 4, 7, ...
func bareTurn(i int) bool { return i%4 == 0 || i%4 == 3 }

// run takes the daemon's place in benchDaemon's load: it runs all the
// turns and returns the daemon's requests; backlog waits for the daemon
// to process what it acknowledged.
func (t *turns) run(daemonURL string, daemonPID int, backlog func()) *result {
	n := t.o.interleave
	turn := t.o.duration / time.Duration(n)
	d := &result{Errors: map[string]int{}}
	first, _ := readProc(daemonPID)
	for i := range 2 * n {
		opts := loadOptions{Conns: t.o.conns, Rate: t.o.rate, Duration: turn}
		if !bareTurn(i) {
			opts.URL = daemonURL
			d.add(load(context.Background(), t.m, opts))
			backlog()
			continue
		}
		opts.URL = "http://" + t.bare.addr + "/callback"
		before, _ := readProc(t.bare.pid())
		dBefore, _ := readProc(daemonPID)
		r := load(context.Background(), t.m, opts)
		after, _ := readProc(t.bare.pid())
		dAfter, _ := readProc(daemonPID)
		t.idleCPU += dAfter.CPU - dBefore.CPU
		t.bareOut.res.add(r)
		t.bareOut.end.CPU += after.CPU - before.CPU
		t.bareOut.end.Switches += after.Switches - before.Switches
	}
	last, _ := readProc(daemonPID)
	t.daemonCPU = last.CPU - first.CPU
	d.sort()
	t.bareOut.res.sort()
	return d
}
