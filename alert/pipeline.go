package alert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
)

// Enqueuer takes notifications for delivery.
type Enqueuer interface {
	Enqueue(ctx context.Context, n *Notification) error
}

// Pipeline runs events through the rules and the throttle and hands the
// resulting notifications to delivery. Events are processed one at a time,
// in arrival order, by Run.
type Pipeline struct {
	logger    *slog.Logger
	metrics   *Metrics
	rules     atomic.Pointer[rules.Engine]
	throttle  *Throttler
	catalogue *callback.Catalogue
	out       Enqueuer
	in        chan *callback.Event

	mu      sync.RWMutex // Ingest holds it shared; Stop exclusively
	stopped bool
	stop    chan struct{}
}

// PipelineOptions configure a Pipeline.
type PipelineOptions struct {
	Logger    *slog.Logger
	Metrics   *Metrics
	Rules     *rules.Engine
	Catalogue *callback.Catalogue
	// MaxKeys bounds the throttle state (throttle.max_keys).
	MaxKeys int
	Out     Enqueuer
	// Backlog is how many accepted events may wait for processing.
	Backlog int
}

// NewPipeline returns a pipeline; call Run to start processing.
func NewPipeline(o PipelineOptions) *Pipeline {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Catalogue == nil {
		o.Catalogue = callback.NewCatalogue()
	}
	if o.Backlog <= 0 {
		o.Backlog = 4096
	}
	p := &Pipeline{
		logger:    o.Logger,
		metrics:   o.Metrics,
		throttle:  NewThrottler(ThrottlerOptions{MaxKeys: o.MaxKeys, OnEvict: o.Metrics.throttleEvictions.Inc}),
		catalogue: o.Catalogue,
		out:       o.Out,
		in:        make(chan *callback.Event, o.Backlog),
		stop:      make(chan struct{}),
	}
	p.rules.Store(o.Rules)
	return p
}

// SetRules swaps in a new rule set for the events processed from now on.
func (p *Pipeline) SetRules(e *rules.Engine) { p.rules.Store(e) }

// ErrBacklogFull means the pipeline cannot take the event now; the caller
// must not acknowledge it.
var ErrBacklogFull = errors.New("alert: event backlog full")

// ErrStopped means the pipeline no longer takes events.
var ErrStopped = errors.New("alert: pipeline stopped")

// Ingest queues ev for processing without waiting for it.
func (p *Pipeline) Ingest(ev *callback.Event) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.stopped {
		return ErrStopped
	}
	select {
	case p.in <- ev:
		return nil
	default:
		return ErrBacklogFull
	}
}

// Stop makes Ingest refuse new events; Run then processes what was already
// taken and returns.
func (p *Pipeline) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
}

// Run processes events until Stop has been called and every taken event is
// processed, or until ctx ends.
func (p *Pipeline) Run(ctx context.Context) {
	var buf []*rules.Rule
	for {
		select {
		case <-ctx.Done():
			if n := len(p.in); n > 0 {
				p.logger.Warn("unprocessed events at shutdown", "count", n)
			}
			return
		case ev := <-p.in:
			buf = p.Process(ctx, ev, buf[:0])
		case <-p.stop:
			for {
				select {
				case ev := <-p.in:
					buf = p.Process(ctx, ev, buf[:0])
				default:
					return
				}
			}
		}
	}
}

// Process runs one event through the rules and decisions and enqueues its
// notifications. buf is scratch space, returned for reuse.
func (p *Pipeline) Process(ctx context.Context, ev *callback.Event, buf []*rules.Rule) []*rules.Rule {
	p.metrics.events.WithLabelValues(callback.CommandLabel(ev.Command)).Inc()
	outs, buf := p.Evaluate(ev, buf)
	for _, o := range outs {
		p.record(o)
		for _, n := range o.Notifications {
			p.metrics.notifications.WithLabelValues(n.Rule, n.Receiver).Inc()
			if err := p.out.Enqueue(ctx, n); err != nil {
				p.logger.Error("notification not queued", "notification", n, "err", err)
			}
		}
	}
	return buf
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
