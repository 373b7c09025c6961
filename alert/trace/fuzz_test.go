package trace_test

import (
	"testing"
	"time"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/trace"
)

// Stored records may be damaged: Unmarshal never panics, and what it
// decodes encodes back to the same bytes.
func FuzzUnmarshal(f *testing.F) {
	f.Add(trace.Marshal(trace.Record{GroupKey: `GroupId="@g"`, Notify: true, Reason: notify.ReasonFirst, Until: time.Unix(1e9, 0), Window: time.Minute}))
	f.Add(trace.Marshal(trace.Record{Suppressed: 3, Count: 2, Threshold: 5, Within: time.Second}))
	f.Add([]byte{1, 0, 200, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := trace.Unmarshal(b, "throttled")
		if err != nil {
			return
		}
		if _, err := trace.Unmarshal(trace.Marshal(r), "throttled"); err != nil {
			t.Errorf("re-encoded record does not decode: %v", err)
		}
	})
}

// The listing's filter comes from the network (API and UI): bad values
// are errors, never panics, and a limit is always within bounds.
func FuzzParseFilter(f *testing.F) {
	f.Add("@TGS#1", "jared", "10023", "rate", "1h", "12", "50")
	f.Add("", "", "x", "", "2026-11-25T14:00:00Z", "-1", "100000")
	f.Add("", "", "-9223372036854775808", "", "-5m", "0", "0")
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, group, from, code, rule, since, before, limit string) {
		vals := map[string]string{"group_id": group, "from_account": from, "error_code": code, "rule": rule,
			"since": since, "before": before, "limit": limit}
		fl, err := trace.ParseFilter(func(k string) string { return vals[k] }, now)
		if err == nil && (fl.Limit < 1 || fl.Limit > trace.MaxLimit || fl.Before < 0) {
			t.Errorf("accepted filter out of bounds: %+v", fl)
		}
	})
}
