package store

import (
	"context"
	"fmt"
	"time"
)

// SweepOptions say what the retention sweep deletes.
type SweepOptions struct {
	// Before: processed journal entries received earlier, and finished
	// notifications (sent, merged, rerouted, dead) finished earlier, are
	// deleted. An entry a remaining notification refers to is kept.
	Before time.Time
	// Now expires decision state (throttle windows, threshold counts,
	// first-seen marks) kept until before it.
	Now time.Time
}

// Swept counts what a sweep deleted.
type Swept struct {
	Events, Notifications, Windows, Incidents int64
	Trace                                     int64 // decisions and delivery attempts
}

// sweepChunk bounds each delete so that journal commits are never held up
// for long behind the sweep.
const sweepChunk = 2000

// Sweep deletes what retention no longer keeps, in small transactions.
// Unprocessed entries and pending notifications are never deleted.
func (s *Store) Sweep(ctx context.Context, o SweepOptions) (out Swept, err error) {
	_ = s.settle()
	before := nanos(o.Before)
	// Entries received before o.Before are among the ids below this one
	// (and a few beyond it, kept until the next sweep).
	upTo, err := s.idReceivedFrom(ctx, o.Before)
	if err != nil {
		return out, fmt.Errorf("store: sweep: %w", err)
	}
	steps := []struct {
		table string
		n     *int64
		query string
		args  []any
	}{
		{"notifications", &out.Notifications, `DELETE FROM notifications WHERE seq IN (SELECT seq FROM notifications
			WHERE state <> 'pending' AND state <> 'held' AND done_at < ? LIMIT ?)`, []any{before, sweepChunk}},
		// The newest entry is kept even when processed and old: new ids
		// follow the largest one left, and must stay past the cursor.
		{"events", &out.Events, `DELETE FROM events WHERE id IN (SELECT id FROM events e
			WHERE e.id < ? AND e.received_at < ? AND e.id <= ` + qThrough + ` AND e.id < (SELECT max(id) FROM events)
			AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.event_id = e.id) LIMIT ?)`, []any{upTo, before, sweepChunk}},
		{"windows", &out.Windows, `DELETE FROM windows WHERE key IN (SELECT key FROM windows
			WHERE keep_until < ? LIMIT ?)`, []any{nanos(o.Now), sweepChunk}},
		// Incidents are few (one per rule, key and threading receiver).
		{"incidents", &out.Incidents, `DELETE FROM incidents WHERE last_at < ?`, []any{before}},
	}
	defer func() {
		if err == nil {
			out.Trace, err = s.sweepTrace(ctx, o.Before)
		}
	}()
	for _, st := range steps {
		for {
			n, err := s.execChanged(ctx, st.query, st.args...)
			if err != nil {
				return out, err
			}
			*st.n += n
			s.metrics.swept.WithLabelValues(st.table).Add(float64(n))
			if n < sweepChunk {
				break
			}
		}
	}
	return out, nil
}
