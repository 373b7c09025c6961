package notify

import (
	"fmt"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
)

var t0 = time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)

// Digests count at most MaxDigestKeys groups and senders by name; the
// rest is counted, not lost.
func TestDigestBounded(t *testing.T) {
	d := NewDigest(t0, time.Minute)
	for i := range MaxDigestKeys + 10 {
		d.Add(&callback.Event{GroupID: fmt.Sprint("g", i), FromAccount: "u"})
	}
	d.Add(&callback.Event{GroupID: "g0"})
	if len(d.Groups) != MaxDigestKeys || d.OtherGroups != 10 || d.Groups["g0"] != 2 || d.Senders["u"] != MaxDigestKeys+10 || d.Total != MaxDigestKeys+11 {
		t.Errorf("groups %d other %d g0 %d total %d", len(d.Groups), d.OtherGroups, d.Groups["g0"], d.Total)
	}
}
