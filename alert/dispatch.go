package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Retry is a receiver's retry policy.
type Retry struct {
	Initial     time.Duration // first backoff
	Max         time.Duration // backoff cap
	GiveUpAfter time.Duration // stop retrying a notification this long after its first attempt
}

// DefaultRetry is used for receivers that set no retry policy.
var DefaultRetry = Retry{Initial: time.Second, Max: time.Minute, GiveUpAfter: 24 * time.Hour}

// Destination is one receiver as the dispatcher sees it.
type Destination struct {
	Name     string
	Notifier Notifier
	Retry    Retry
	// Timeout bounds one attempt.
	Timeout time.Duration
}

// Dispatcher delivers notifications asynchronously, one queue and one
// worker per receiver, so a slow or failing receiver never delays another.
type Dispatcher struct {
	logger  *slog.Logger
	metrics *Metrics
	queues  map[string]*queue
	wg      sync.WaitGroup

	mu     sync.RWMutex // Enqueue holds it shared; Close exclusively
	closed bool
}

type queue struct {
	dest Destination
	ch   chan *Notification
}

// QueueSize is how many notifications each receiver's queue holds before
// Enqueue blocks.
const QueueSize = 1024

// NewDispatcher returns a dispatcher for dests. Call Run to start delivering.
func NewDispatcher(logger *slog.Logger, m *Metrics, dests []Destination) *Dispatcher {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	d := &Dispatcher{logger: logger, metrics: m, queues: make(map[string]*queue, len(dests))}
	for _, dest := range dests {
		if dest.Retry == (Retry{}) {
			dest.Retry = DefaultRetry
		}
		if dest.Timeout <= 0 {
			dest.Timeout = 30 * time.Second
		}
		d.queues[dest.Name] = &queue{dest: dest, ch: make(chan *Notification, QueueSize)}
	}
	return d
}

// ErrUnknownReceiver is returned by Enqueue for a receiver it has no queue for.
var ErrUnknownReceiver = errors.New("alert: unknown receiver")

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("alert: dispatcher closed")

// Enqueue hands n to its receiver's queue, waiting while the queue is full
// until ctx ends.
func (d *Dispatcher) Enqueue(ctx context.Context, n *Notification) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	q, ok := d.queues[n.Receiver]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownReceiver, n.Receiver)
	}
	select {
	case q.ch <- n:
		d.metrics.queued.WithLabelValues(n.Receiver).Inc()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops Enqueue; Run then delivers what is queued and returns. Close
// must not be called while an Enqueue may be blocked on a full queue.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	for _, q := range d.queues {
		close(q.ch)
	}
}

// Run delivers until Close has been called and the queues are empty, or
// until ctx ends; it returns once every worker has stopped. A notification
// whose retries are cut short by ctx is logged as undelivered.
func (d *Dispatcher) Run(ctx context.Context) {
	for _, q := range d.queues {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.work(ctx, q)
		}()
	}
	d.wg.Wait()
}

func (d *Dispatcher) work(ctx context.Context, q *queue) {
	logger := d.logger.With("receiver", q.dest.Name)
	for {
		select {
		case <-ctx.Done():
			if left := len(q.ch); left > 0 {
				logger.Warn("undelivered notifications at shutdown", "count", left)
			}
			return
		case n, ok := <-q.ch:
			if !ok {
				return
			}
			d.metrics.queued.WithLabelValues(q.dest.Name).Dec()
			d.deliver(ctx, logger, q.dest, n)
		}
	}
}

// deliver makes attempts until one succeeds, a failure is permanent, the
// retry policy gives up, or ctx ends. It logs a failed attempt only when
// the error differs from the previous one.
func (d *Dispatcher) deliver(ctx context.Context, logger *slog.Logger, dest Destination, n *Notification) {
	start := time.Now()
	backoff := dest.Retry.Initial
	lastErr := ""
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, dest.Timeout)
		t0 := time.Now()
		err := dest.Notifier.Notify(actx, n)
		cancel()
		d.metrics.attempts.WithLabelValues(dest.Name).Inc()
		d.metrics.latency.WithLabelValues(dest.Name).Observe(time.Since(t0).Seconds())
		if err == nil {
			d.metrics.deliveries.WithLabelValues(dest.Name, "sent").Inc()
			if attempt > 1 {
				logger.Info("delivered after retries", "notification", n, "attempts", attempt)
			}
			return
		}
		retryable, reason, after := classify(err)
		d.metrics.failures.WithLabelValues(dest.Name, reason).Inc()
		if msg := err.Error(); msg != lastErr {
			logger.Warn("delivery attempt failed", "notification", n, "attempt", attempt, "retryable", retryable, "err", msg)
			lastErr = msg
		}
		if !retryable || ctx.Err() != nil || time.Since(start) > dest.Retry.GiveUpAfter {
			d.metrics.deliveries.WithLabelValues(dest.Name, "failed").Inc()
			logger.Error("notification not delivered", "notification", n, "attempts", attempt, "err", err.Error())
			return
		}
		wait := jitter(backoff)
		if after > wait {
			wait = after
		}
		select {
		case <-ctx.Done():
			d.metrics.deliveries.WithLabelValues(dest.Name, "failed").Inc()
			logger.Error("notification not delivered: shutting down", "notification", n, "attempts", attempt)
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, dest.Retry.Max)
	}
}

// jitter spreads d over [d/2, d) so that retries of many notifications do
// not arrive together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(half)
}
