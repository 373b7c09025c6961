// Package trace is the decision trace: what the pipeline decided for each
// journaled event and rule, recorded compactly with the batch that
// processed it, and read back with the event, its notifications and
// every delivery attempt, for the API, the CLI and the web UI.
package trace

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/imalert/imalert/alert/notify"
)

// Record is one rule's decision on one event, as stored.
type Record struct {
	GroupKey string
	Notify   bool
	Reason   notify.Reason
	// Until is when the window that applies to the key ends.
	Until time.Time
	// Window is the throttle window opened or running.
	Window time.Duration
	// Suppressed counts the events the open window held back, this one
	// included, for a throttled event.
	Suppressed int
	// Count and Threshold: for a rule with a threshold, how many matching
	// events fell within Within, of the Threshold needed.
	Count, Threshold int
	Within           time.Duration
	// By names what held the event when it was not a window or a
	// threshold: the silence or the budget. Empty otherwise.
	By string
}

// The encoding at rest: a version byte, a flag byte, then the group key
// (length and bytes), the numbers as varints, and By (length and bytes);
// about 20 bytes plus the key, several times smaller than JSON.
const version1 = 1

const flagNotify = 1

// maxKey bounds the group key kept in a record.
const maxKey = 512

// Marshal encodes r compactly.
func Marshal(r Record) []byte {
	key := r.GroupKey
	if len(key) > maxKey {
		key = key[:maxKey]
	}
	b := make([]byte, 0, 24+len(key))
	var flags byte
	if r.Notify {
		flags |= flagNotify
	}
	b = append(b, version1, flags)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	until := int64(0)
	if !r.Until.IsZero() {
		until = r.Until.UnixNano()
	}
	b = binary.AppendVarint(b, until)
	b = binary.AppendVarint(b, int64(r.Window))
	b = binary.AppendUvarint(b, uint64(max(r.Suppressed, 0)))
	b = binary.AppendUvarint(b, uint64(max(r.Count, 0)))
	b = binary.AppendUvarint(b, uint64(max(r.Threshold, 0)))
	b = binary.AppendVarint(b, int64(r.Within))
	by := r.By
	if len(by) > maxKey {
		by = by[:maxKey]
	}
	b = binary.AppendUvarint(b, uint64(len(by)))
	return append(b, by...)
}

var errCorrupt = errors.New("trace: corrupt record")

// Unmarshal decodes a record written by Marshal; reason is the stored
// column.
func Unmarshal(b []byte, reason string) (Record, error) {
	r := Record{Reason: notify.Reason(reason)}
	if len(b) < 2 || b[0] != version1 {
		return r, errCorrupt
	}
	r.Notify = b[1]&flagNotify != 0
	b = b[2:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return r, errCorrupt
	}
	r.GroupKey = string(b[k : k+int(n)])
	b = b[k+int(n):]
	var vals [6]int64
	for i := range vals {
		var v int64
		var k int
		if i >= 2 && i <= 4 {
			var u uint64
			u, k = binary.Uvarint(b)
			v = int64(min(u, 1<<31))
		} else {
			v, k = binary.Varint(b)
		}
		if k <= 0 {
			return r, errCorrupt
		}
		vals[i] = v
		b = b[k:]
	}
	if vals[0] != 0 {
		r.Until = time.Unix(0, vals[0]).UTC()
	}
	r.Window = time.Duration(vals[1])
	r.Suppressed, r.Count, r.Threshold = int(vals[2]), int(vals[3]), int(vals[4])
	r.Within = time.Duration(vals[5])
	n, k = binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return r, errCorrupt
	}
	r.By = string(b[k : k+int(n)])
	return r, nil
}
