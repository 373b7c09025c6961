package silence

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
)

// BenchmarkMatching is the per-event cost of consulting 10 active
// silences, none of which matches (the common case in a storm).
func BenchmarkMatching(b *testing.B) {
	now := t0
	s, _ := openSet(b, &now)
	for i := range 10 {
		m := json.RawMessage(fmt.Sprintf(`{"error_code": "80001-80004", "GroupId": {"glob": "@TGS#%d*"}}`, i))
		if _, err := s.Add(context.Background(), Request{Matchers: m, Duration: "1h", Author: "a", Comment: "c"}); err != nil {
			b.Fatal(err)
		}
	}
	ev := &callback.Event{GroupID: "@TGS#X", ErrorCode: 10023, Present: callback.FieldErrorCode, ReceivedAt: t0.Add(time.Minute)}
	var dst []string
	b.ReportAllocs()
	for b.Loop() {
		dst = s.Matching(ev, dst[:0])
	}
}
