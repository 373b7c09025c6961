package store

import (
	"testing"
	"time"
)

// The linger waits up to 5 ms for 6 callbacks in a moderate stream and up
// to 3 ms for 3 in a fast one, measured over the last quarter second.
func TestStreamRate(t *testing.T) {
	for _, tt := range []struct {
		name   string
		phases []struct{ perSecond, seconds int }
		want   int
		linger time.Duration
	}{
		{"quiet", nil, 6, 5 * time.Millisecond},
		{"1,000/s", []struct{ perSecond, seconds int }{{1000, 2}}, 6, 5 * time.Millisecond},
		{"1,400/s", []struct{ perSecond, seconds int }{{1400, 2}}, 6, 5 * time.Millisecond},
		{"2,000/s", []struct{ perSecond, seconds int }{{2000, 2}}, 3, 3 * time.Millisecond},
		{"a storm", []struct{ perSecond, seconds int }{{12000, 2}}, 3, 3 * time.Millisecond},
		{"a storm, then 500/s", []struct{ perSecond, seconds int }{{12000, 2}, {500, 1}}, 6, 5 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r streamRate
			now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
			for _, p := range tt.phases {
				// Commits of 4 callbacks, evenly spaced.
				every := time.Second * 4 / time.Duration(p.perSecond)
				for end := now.Add(time.Duration(p.seconds) * time.Second); now.Before(end); now = now.Add(every) {
					r.add(now, 4)
				}
			}
			got := r.linger()
			if got.enough != tt.want {
				t.Errorf("enough = %d, want %d", got.enough, tt.want)
			}
			if got.wait != tt.linger {
				t.Errorf("wait = %v, want %v", got.wait, tt.linger)
			}
		})
	}
}
