package main

import (
	"io"
	"testing"
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
