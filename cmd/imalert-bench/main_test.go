package main

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{0.4}, 0.4},
		{[]float64{0.6, 0.4, 0.5}, 0.5},
		{[]float64{0.7, 0.4, 0.5, 0.6}, 0.55},
	} {
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}

// Rounds compare the daemon with the bare handler: without it, or with
// several replicas (measured once), they are refused.
func TestRoundsFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-imalert", "x", "-rounds", "3"}, true},
		{[]string{"-imalert", "x", "-rounds", "0"}, false},
		{[]string{"-imalert", "x", "-rounds", "3", "-bare=false"}, false},
		{[]string{"-imalert", "x", "-rounds", "3", "-redis", "h:1", "-replicas", "2"}, false},
	} {
		o, err := parse(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("%v: err %v, want ok %v", tc.args, err, tc.ok)
		} else if tc.ok && o.rounds != 3 {
			t.Errorf("%v: %d rounds", tc.args, o.rounds)
		}
	}
}

// The summary of rounds gives each figure's median and range: the p99 of
// one round moves with the machine as the ratios do.
func TestRoundsSummary(t *testing.T) {
	run := func(rate float64, cpu time.Duration, p99 time.Duration, within, answered float64) *measured {
		n := 1000
		lat := make([]time.Duration, n)
		for i := range lat {
			lat[i] = time.Millisecond
		}
		for i := n - 20; i < n; i++ {
			lat[i] = p99 // the top 2%: the 99th percentile
		}
		return &measured{
			res:    &result{Sent: int(rate), OK: int(rate), Elapsed: time.Second, Lat: lat},
			before: procStats{}, end: procStats{CPU: time.Duration(rate) * cpu},
			answered: answered, within5ms: within,
		}
	}
	var sum roundsSummary
	bare := run(2000, 100*time.Microsecond, 2*time.Millisecond, 0, 0)
	for _, d := range []*measured{
		run(1000, 250*time.Microsecond, 5200*time.Microsecond, 998, 1000),
		run(1100, 200*time.Microsecond, 4*time.Millisecond, 999, 1000),
		run(1200, 300*time.Microsecond, 4500*time.Microsecond, 1000, 1000),
	} {
		sum.add(d, bare)
	}
	var b strings.Builder
	sum.print(&b)
	for _, want := range []string{
		"req/s 0.55 (0.50 to 0.60) of bare gin",
		"CPU per callback 2.50 (2.00 to 3.00)x",
		"p99 4.50 (4.00 to 5.20) ms, bare gin's 2.00 (2.00 to 2.00) ms",
		"within 5ms, as the daemon measures it: 99.90 (99.80 to 100.00)%",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

// Turns alternate in pairs, so that a drift of the machine's speed over
// the run falls on both servers alike: bare, daemon, daemon, bare, ...
func TestBareTurn(t *testing.T) {
	var got []bool
	for i := range 8 {
		got = append(got, bareTurn(i))
	}
	want := []bool{true, false, false, true, true, false, false, true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("turns %v, want %v", got, want)
	}
}

// Runs added are one run: counts and time summed, latencies in order once sorted.
func TestResultAdd(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	r := &result{Errors: map[string]int{}}
	r.add(&result{Sent: 3, OK: 2, Errors: map[string]int{"503": 1}, Elapsed: time.Second, Lat: ms(1, 4, 9)})
	r.add(&result{Sent: 2, OK: 2, Errors: map[string]int{}, Elapsed: time.Second, Lat: ms(2, 5), FromSend: ms(1, 3)})
	r.sort()
	if r.Sent != 5 || r.OK != 4 || r.Errors["503"] != 1 || r.Elapsed != 2*time.Second || r.rate() != 2.5 {
		t.Errorf("merged %+v", r)
	}
	if fmt.Sprint(r.Lat) != fmt.Sprint(ms(1, 2, 4, 5, 9)) {
		t.Errorf("latencies %v, want them in order", r.Lat)
	}
	if fmt.Sprint(r.FromSend) != fmt.Sprint(ms(1, 3)) {
		t.Errorf("from when sent %v, want the second run's", r.FromSend)
	}
}

// Turns need the bare handler and one daemon.
func TestInterleaveFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-imalert", "x", "-interleave", "4"}, true},
		{[]string{"-imalert", "x", "-interleave", "4", "-rounds", "3"}, true},
		{[]string{"-imalert", "x", "-interleave", "-1"}, false},
		{[]string{"-imalert", "x", "-interleave", "4", "-bare=false"}, false},
		{[]string{"-imalert", "x", "-interleave", "4", "-redis", "h:1", "-replicas", "2"}, false},
	} {
		if _, err := parse(tc.args, io.Discard); (err == nil) != tc.ok {
			t.Errorf("%v: err %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}
