package delivery

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

var t0 = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

func TestMerge(t *testing.T) {
	ev := func(at time.Time) *callback.Event { return &callback.Event{ReceivedAt: at} }
	tests := []struct {
		name   string
		group  []*notify.Notification
		want   notify.Throttled
		merged int
	}{
		{
			"alone",
			[]*notify.Notification{{Event: ev(t0), Throttle: notify.Throttled{Window: time.Minute, Suppressed: 2, Since: t0.Add(-time.Minute), First: t0.Add(-50 * time.Second), Last: t0.Add(-time.Second)}}},
			notify.Throttled{Window: time.Minute, Suppressed: 2, Since: t0.Add(-time.Minute), First: t0.Add(-50 * time.Second), Last: t0.Add(-time.Second)}, 0,
		},
		{
			"three pages, counts add up",
			[]*notify.Notification{
				{Event: ev(t0), Throttle: notify.Throttled{Window: time.Minute}},
				{Event: ev(t0.Add(time.Minute)), Throttle: notify.Throttled{Window: time.Minute, Suppressed: 4, Since: t0, First: t0.Add(time.Second), Last: t0.Add(59 * time.Second)}},
				{Event: ev(t0.Add(2 * time.Minute)), Throttle: notify.Throttled{Window: time.Minute, Suppressed: 1, Since: t0.Add(time.Minute), First: t0.Add(90 * time.Second), Last: t0.Add(90 * time.Second)}},
			},
			// 1 + 4 and 1 + 1 events on top of the first page.
			notify.Throttled{Window: time.Minute, Suppressed: 7, Since: t0, First: t0.Add(time.Second), Last: t0.Add(2 * time.Minute)}, 2,
		},
		{
			"a quiet summary adds what it held, not an event of its own",
			[]*notify.Notification{
				{Event: ev(t0), Throttle: notify.Throttled{Window: time.Minute}},
				{Quiet: true, CreatedAt: t0.Add(time.Minute), Throttle: notify.Throttled{Window: time.Minute, Suppressed: 2, Since: t0, First: t0.Add(10 * time.Second), Last: t0.Add(20 * time.Second)}},
			},
			notify.Throttled{Window: time.Minute, Suppressed: 2, Since: t0, First: t0.Add(10 * time.Second), Last: t0.Add(20 * time.Second)}, 1,
		},
		{
			"merged notification merged again",
			[]*notify.Notification{
				{Event: ev(t0)},
				{Event: ev(t0.Add(time.Second)), Merged: 3, Throttle: notify.Throttled{Suppressed: 3, First: t0.Add(time.Second / 2), Last: t0.Add(2 * time.Second)}},
			},
			notify.Throttled{Suppressed: 4, Since: t0, First: t0.Add(time.Second / 2), Last: t0.Add(2 * time.Second)}, 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := *tt.group[0]
			got := merge(tt.group)
			if d := cmp.Diff(tt.want, got.Throttle); d != "" {
				t.Errorf("throttle (-want +got):\n%s", d)
			}
			if got.Merged != tt.merged {
				t.Errorf("merged = %d, want %d", got.Merged, tt.merged)
			}
			if tt.group[0].Throttle != before.Throttle {
				t.Error("merge changed its input")
			}
		})
	}

	a, b := notify.NewDigest(t0, time.Minute), notify.NewDigest(t0.Add(time.Minute), time.Minute)
	a.Add(&callback.Event{GroupID: "g", ErrorCode: 1, Present: callback.FieldErrorCode})
	b.Add(&callback.Event{GroupID: "g", ErrorCode: 2, Present: callback.FieldErrorCode})
	b.Add(&callback.Event{GroupID: "h"})
	got := merge([]*notify.Notification{{Digest: a}, {Digest: b}})
	if d := got.Digest; d.Total != 3 || d.Groups["g"] != 2 || d.ByCode["-"] != 1 || !d.End.Equal(t0.Add(2*time.Minute)) || got.Merged != 1 {
		t.Errorf("merged digest = %+v", d)
	}
	if a.Total != 1 {
		t.Error("merge changed its input digest")
	}
}

// A notification's throttle summary goes through the outbox as it was,
// with its zero fields left out of the row; rows written with them still
// read back the same.
func TestEncodeThrottle(t *testing.T) {
	full := notify.Throttled{Window: time.Minute, Next: 2 * time.Minute, Suppressed: 3, Since: t0, First: t0.Add(time.Second), Last: t0.Add(50 * time.Second)}
	tests := []struct {
		name     string
		throttle notify.Throttled
		absent   []string // not in the row
	}{
		{"no throttle", notify.Throttled{}, []string{`"throttle"`}},
		{"first page of a window", notify.Throttled{Window: 10 * time.Minute, Next: 10 * time.Minute},
			[]string{`"Suppressed"`, `"Since"`, `"First"`, `"Last"`, "0001-01-01"}},
		{"held back", full, []string{"0001-01-01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &notify.Notification{ID: "n1", Receiver: "r", Rule: "rule", Severity: "warning", Quiet: true, Throttle: tt.throttle}
			row := Encode(n)
			for _, s := range tt.absent {
				if strings.Contains(string(row.Data), s) {
					t.Errorf("row %s holds %s", row.Data, s)
				}
			}
			got, err := Decode(row, callback.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.throttle, got.Throttle); d != "" {
				t.Errorf("throttle (-want +got):\n%s", d)
			}
		})
	}

	old, err := os.ReadFile("testdata/outbox-row-zero-times.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(store.Notification{Data: old}, callback.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (notify.Throttled{Window: 10 * time.Minute, Next: 10 * time.Minute}); got.Throttle != want || got.Reason != notify.ReasonFirst {
		t.Errorf("row with zero times read as %+v, %q", got.Throttle, got.Reason)
	}
	if row := Encode(got); len(row.Data) >= len(old)-100 {
		t.Errorf("written again in %d bytes, against %d with the zero times", len(row.Data), len(old))
	}
}
