package state_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/state"
)

func TestEncodingRoundTrip(t *testing.T) {
	for _, st := range []state.KeyState{
		{},
		{Seen: true},
		{Start: t0, End: t0.Add(10 * time.Minute), Window: 10 * time.Minute, Suppressed: 3, First: t0.Add(time.Second), Last: t0.Add(time.Minute)},
		{Hits: []time.Time{t0, t0.Add(time.Second), t0.Add(2 * time.Second)}},
		{Hits: []time.Time{t0, t0.Add(time.Second)}, Who: []uint32{7, 1<<32 - 1}, Names: []string{"@TGS#1", "jared"}},
		{Hits: []time.Time{t0, t0.Add(time.Second)}, Who: []uint32{0, 9}},
	} {
		got, err := state.Unmarshal(state.Marshal(st))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(st, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

// States written before Who and Names existed still read, as they were.
func TestEncodingReadsStatesWithoutWho(t *testing.T) {
	old := []byte{0x1, 0x1, 0x80, 0x80, 0xd6, 0xd4, 0xd8, 0xa0, 0xa7, 0xeb, 0x31, 0x0, 0x0, 0x1, 0x80, 0x80, 0xd6, 0xd4, 0xd8, 0xa0, 0xa7, 0xeb, 0x31}
	got, err := state.Unmarshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(state.KeyState{Start: t0, Hits: []time.Time{t0}}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if string(state.Marshal(got)) != string(old) {
		t.Error("a state without Who no longer encodes as before")
	}
}

// Rows written by earlier versions, as JSON, still read.
func TestEncodingReadsLegacyJSON(t *testing.T) {
	row := `{"start":"2026-11-25T14:00:00Z","end":"2026-11-25T14:10:00Z","window":600000000000,"suppressed":2,"first":"2026-11-25T14:00:01Z","last":"2026-11-25T14:00:02Z","hits":["2026-11-25T14:00:00Z"],"seen":true}`
	got, err := state.Unmarshal([]byte(row))
	if err != nil {
		t.Fatal(err)
	}
	want := state.KeyState{Start: t0, End: t0.Add(10 * time.Minute), Window: 10 * time.Minute, Suppressed: 2,
		First: t0.Add(time.Second), Last: t0.Add(2 * time.Second), Hits: []time.Time{t0}, Seen: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("legacy row (-want +got):\n%s", diff)
	}
}

func TestEncodingRefusesCorrupt(t *testing.T) {
	good := state.Marshal(state.KeyState{Start: t0, Hits: []time.Time{t0}})
	for name, data := range map[string][]byte{
		"empty":         nil,
		"unknown":       {9, 0},
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"bad json":      []byte(`{"start": 1`),
		"too many hits": {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		// flags hasWho (32), window, suppressed, 1 hit, then Who and Names.
		"more who than hits": {1, 32, 0, 0, 1, 0, 2, 1, 1, 0},
		"who over 32 bits":   {1, 32, 0, 0, 1, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 0},
		"too many names":     {1, 32, 0, 0, 1, 0, 0, 17},
		"name too long":      {1, 32, 0, 0, 1, 0, 0, 1, 65},
		"name cut short":     {1, 32, 0, 0, 1, 0, 0, 1, 3, 'a'},
	} {
		if _, err := state.Unmarshal(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzUnmarshal: hostile bytes in the store never panic, and whatever
// decodes encodes back to the same state.
func FuzzUnmarshal(f *testing.F) {
	f.Add(state.Marshal(state.KeyState{Start: t0, End: t0, Window: time.Minute, Suppressed: 1, Hits: []time.Time{t0}, Seen: true}))
	f.Add(state.Marshal(state.KeyState{Hits: []time.Time{t0, t0}, Who: []uint32{0, 7}, Names: []string{"@TGS#1"}}))
	f.Add([]byte(`{"suppressed":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := state.Unmarshal(data)
		if err != nil || (len(data) > 0 && data[0] == '{') {
			return
		}
		again, err := state.Unmarshal(state.Marshal(st))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(st, again); diff != "" {
			t.Errorf("re-encoding changed the state:\n%s", diff)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	st := state.KeyState{Start: t0, End: t0.Add(10 * time.Minute), Window: 10 * time.Minute, Suppressed: 3, First: t0, Last: t0}
	b.ReportAllocs()
	for b.Loop() {
		state.Marshal(st)
	}
}

// The JSON encoding earlier versions wrote, for comparison with Marshal.
func BenchmarkMarshalLegacyJSON(b *testing.B) {
	st := state.KeyState{Start: t0, End: t0.Add(10 * time.Minute), Window: 10 * time.Minute, Suppressed: 3, First: t0, Last: t0}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(st)
	}
}

// The corrupt cases above are corrupt only where they say: the same bytes
// with a valid tail read.
func TestEncodingWhoCaseIsValidWhenWellFormed(t *testing.T) {
	st, err := state.Unmarshal([]byte{1, 32, 0, 0, 1, 0, 1, 5, 1, 1, 'a'})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Who) != 1 || st.Who[0] != 5 || len(st.Names) != 1 || st.Names[0] != "a" {
		t.Errorf("got %+v", st)
	}
}
