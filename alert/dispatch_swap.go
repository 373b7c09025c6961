package alert

// SetNotifier puts n in place of the notifier of receiver name, as a
// reload does when the receiver's settings change. The receiver keeps its
// queue, pacing and backoff: pending notifications stay queued and go out
// through n, from the next attempt on; an attempt in flight finishes with
// the old notifier. It reports false when the dispatcher has no such
// receiver (receivers are added only at start).
func (d *Dispatcher) SetNotifier(name string, n Notifier) bool {
	q, ok := d.queues[name]
	if !ok || n == nil {
		return false
	}
	q.notifyMu.Lock()
	q.dest.Notifier = n
	q.notifyMu.Unlock()
	d.Wake(name)
	return true
}

// notifier returns the queue's current notifier.
func (q *queue) notifier() Notifier {
	q.notifyMu.Lock()
	defer q.notifyMu.Unlock()
	return q.dest.Notifier
}
