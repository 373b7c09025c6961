package rules

import (
	"slices"
	"testing"
	"time"
)

// MatchTimed matches as Match does and times every candidate rule once,
// on the clock it is given.
func TestMatchTimed(t *testing.T) {
	f, err := ParseFile("bench.yaml", []byte(benchRules(50)))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile([]*File{f}, Options{Receivers: map[string]bool{"console": true}})
	if err != nil {
		t.Fatal(err)
	}
	ev := benchEvent()
	want := e.Match(ev, nil)
	if len(want) == 0 {
		t.Fatal("the bench event matches nothing")
	}
	var clock time.Time
	now := func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	took := map[string]time.Duration{}
	got := e.MatchTimed(ev, nil, now, func(r *Rule, d time.Duration) {
		if _, seen := took[r.Name]; seen {
			t.Errorf("rule %s timed twice", r.Name)
		}
		took[r.Name] = d
	})
	if !slices.Equal(want, got) {
		t.Errorf("MatchTimed matched %d rules, Match %d", len(got), len(want))
	}
	for _, r := range want {
		if took[r.Name] != time.Millisecond {
			t.Errorf("rule %s: took %v, want one clock step", r.Name, took[r.Name])
		}
	}
	if len(took) < len(want) {
		t.Errorf("%d rules timed, fewer than the %d matched", len(took), len(want))
	}
}
