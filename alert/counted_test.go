package alert

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/callback"
)

func TestCountedBy(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"threshold: {count: 3, within: 1m}", callback.NameGroupID},
		{"threshold: {count: 3, within: 1m}\ngroup_by: [ErrorCode]", callback.NameGroupID},
		{"threshold: {count: 3, within: 1m}\ngroup_by: [GroupId]", callback.NameFromAccount},
		{"threshold: {count: 3, within: 1m}\ngroup_by: [From_Account]", callback.NameGroupID},
		{"threshold: {count: 3, within: 1m}\ngroup_by: [GroupId, From_Account]", ""},
		{"throttle: 1m", ""},
	}
	for _, tt := range tests {
		if got := countedBy(rule(t, tt.spec)); got != tt.want {
			t.Errorf("%q: countedBy = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

// A threshold page of a group-keyed rule lists the senders it counted: the
// top 5, most first (ties by name), then how many more.
func TestThresholdPageListsSenders(t *testing.T) {
	e := compile(t, `rules:
  - name: burst
    group_by: [GroupId]
    threshold: {count: 12, within: 1m}
    throttle: 0s
    receivers: [a, b]
`)
	p := NewPipeline(PipelineOptions{Rules: e})
	var evs []*callback.Event
	for i, from := range strings.Fields("a b a b a c b d a e f g") {
		evs = append(evs, exceptionEvent(t, t0.Add(time.Duration(i)*time.Second), from))
	}
	got := evaluate(p, evs...)
	if len(got) != 2 {
		t.Fatalf("%d notifications, want one per receiver", len(got))
	}
	want := notify.ThresholdCount{Count: 12, Within: time.Minute, By: callback.NameFromAccount,
		Top: []notify.Count{{Name: "a", Count: 4}, {Name: "b", Count: 3}, {Name: "c", Count: 1}, {Name: "d", Count: 1}, {Name: "e", Count: 1}}, More: 2}
	for _, n := range got {
		if diff := cmp.Diff(want, n.Threshold); diff != "" {
			t.Errorf("%s: threshold (-want +got):\n%s", n.Receiver, diff)
		}
	}
	footer := strings.Join(page.Build(got[0]).Footer, "\n")
	if line := "senders counted: a (4), b (3), c (1), d (1), e (1) and 2 more"; !strings.Contains(footer, line) {
		t.Errorf("footer %q lacks %q", footer, line)
	}
}

// Only the hits the threshold still counts are listed.
func TestThresholdListsOnlyWhatItCounts(t *testing.T) {
	r := rule(t, "threshold: {count: 3, within: 1m}\nthrottle: 0s")
	var e state.Entry
	var d Decision
	for i, g := range []string{"@TGS#old", "@TGS#1", "@TGS#2", "@TGS#1"} {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		d, e = decideWho(e, now, r, g)
		if i == 3 {
			if !d.Notify {
				t.Fatalf("no page at the third hit within a minute: %+v", d)
			}
			top, more := counted(e.State, now, r.Threshold.Within)
			want := []notify.Count{{Name: "@TGS#1", Count: 2}, {Name: "@TGS#2", Count: 1}}
			if diff := cmp.Diff(want, top); diff != "" || more != 0 {
				t.Errorf("counted (-want +got):\n%s more %d", diff, more)
			}
		}
	}
}

// The state stays bounded however many names pass through, Who stays
// parallel to Hits, and a name no hit refers to any more makes room.
func TestCountHitBounded(t *testing.T) {
	r := rule(t, "threshold: {count: 30, within: 1h}\nthrottle: 0s")
	var e state.Entry
	long := strings.Repeat("é", state.MaxNameBytes) // two bytes a rune
	for i := range 200 {
		_, e = decideWho(e, t0.Add(time.Duration(i)*time.Second), r, fmt.Sprint(long, i))
		st := e.State
		if len(st.Who) != len(st.Hits) || len(st.Names) > state.MaxNames {
			t.Fatalf("hit %d: %d who for %d hits, %d names", i, len(st.Who), len(st.Hits), len(st.Names))
		}
		for _, n := range st.Names {
			if len(n) > state.MaxNameBytes || !strings.HasPrefix(long, n) {
				t.Fatalf("hit %d: name %q kept: cut wrongly", i, n)
			}
		}
	}
	// Every name is cut to the same prefix: one sender, counted 30 times.
	top, more := counted(e.State, t0.Add(200*time.Second), time.Hour)
	if len(top) != 1 || top[0].Count != 30 || more != 0 {
		t.Errorf("counted %+v and %d more, want one name 30 times", top, more)
	}

	e = state.Entry{}
	for i := range 200 {
		_, e = decideWho(e, t0.Add(time.Duration(i)*time.Second), r, fmt.Sprint("g", i))
	}
	top, more = counted(e.State, t0.Add(200*time.Second), time.Hour)
	if len(top) != MaxCounted || len(top)+more != 30 {
		t.Errorf("counted %d and %d more, want %d and the rest of 30", len(top), more, MaxCounted)
	}
	// A sender that comes late, when the names kept are all counted, is
	// named once it has more hits than the least of them.
	for i := range 3 {
		_, e = decideWho(e, t0.Add(time.Duration(200+i)*time.Second), r, "late")
	}
	top, _ = counted(e.State, t0.Add(203*time.Second), time.Hour)
	if len(top) == 0 || top[0] != (notify.Count{Name: "late", Count: 3}) {
		t.Errorf("counted %+v, want late (3) first", top)
	}
}

// Hits counted before the state kept Who are not named, and do not shift
// the names of the hits that follow.
func TestCountHitAfterStateWithoutWho(t *testing.T) {
	r := rule(t, "threshold: {count: 3, within: 1m}\nthrottle: 0s")
	old := state.Entry{State: state.KeyState{Hits: []time.Time{t0, t0.Add(time.Second)}}, KeepUntil: t0.Add(time.Hour)}
	d, e := decideWho(old, t0.Add(2*time.Second), r, "@TGS#1")
	if !d.Notify || d.Count != 3 {
		t.Fatalf("decision %+v, want a page at 3", d)
	}
	if want := []uint32{0, 0, whoHash("@TGS#1")}; !cmp.Equal(want, e.State.Who) {
		t.Errorf("who %v, want %v", e.State.Who, want)
	}
	top, more := counted(e.State, t0.Add(2*time.Second), time.Minute)
	if len(top) != 1 || top[0] != (notify.Count{Name: "@TGS#1", Count: 1}) || more != 0 {
		t.Errorf("counted %+v and %d more", top, more)
	}
	if len(old.State.Who) != 0 {
		t.Error("decideWho changed the old entry")
	}
}

// whoHash is FNV-1a, never 0 (0 means not known).
func TestWhoHash(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want uint32
	}{{"", 2166136261}, {"a", 0xe40c292c}, {"foobar", 0xbf9cf968}} {
		if got := whoHash(tt.in); got != tt.want {
			t.Errorf("whoHash(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}
