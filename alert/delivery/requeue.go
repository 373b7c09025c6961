package delivery

import (
	"context"
	"encoding/json"
	"time"

	"github.com/imalert/imalert/store"
)

// Requeue makes the dead letter id pending again as of at, and keeps when
// it was first due, which its page then shows. Requeued again, it keeps
// the first time. It reports whether there was such a dead letter.
func Requeue(ctx context.Context, s *store.Store, id string, at time.Time) (bool, error) {
	return s.RequeueWith(ctx, id, at, func(created time.Time, data []byte) []byte {
		var rec map[string]json.RawMessage
		if json.Unmarshal(data, &rec) != nil || rec == nil {
			// Unreadable: requeue it as it is; it is delivered with what is left.
			return data
		}
		if _, ok := rec["first_due"]; !ok {
			rec["first_due"], _ = json.Marshal(created.UTC())
		}
		out, err := json.Marshal(rec)
		if err != nil {
			return data
		}
		return out
	})
}
