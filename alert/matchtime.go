package alert

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
)

// MatchTiming configures how the pipeline measures the rules' matching
// time: one event in Every is matched with each candidate rule timed, so a
// rule whose conditions are costly (a regex that backtracks over long
// text) shows in imalert_rule_match_seconds and, past Slow, in
// imalert_rule_slow_matches_total and a warning, without timing every
// match.
type MatchTiming struct {
	Every int           // default 64; 1 times every event
	Slow  time.Duration // default 10ms
	// Clock is read before and after each timed rule; nil means time.Now.
	Clock func() time.Time
}

// Defaults of MatchTiming.
const (
	DefaultMatchSampleEvery = 64
	DefaultSlowMatch        = 10 * time.Millisecond
	// slowWarnEvery is how often a slow rule is warned about, at most.
	slowWarnEvery = time.Minute
	// maxWarned bounds the rules remembered as warned about.
	maxWarned = 10_000
)

// matchTimer samples rule matching time.
type matchTimer struct {
	o       MatchTiming
	n       atomic.Uint64
	logger  *slog.Logger
	seconds *prometheus.HistogramVec
	slow    *prometheus.CounterVec

	mu     sync.Mutex
	warned map[string]time.Time // rule name: last warning
}

func newMatchTimer(o MatchTiming, logger *slog.Logger, m *Metrics) *matchTimer {
	if o.Every <= 0 {
		o.Every = DefaultMatchSampleEvery
	}
	if o.Slow <= 0 {
		o.Slow = DefaultSlowMatch
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &matchTimer{o: o, logger: logger, seconds: m.matchSeconds, slow: m.slowMatches, warned: map[string]time.Time{}}
}

// match is engine.Match, timed on one event in Every.
func (t *matchTimer) match(engine *rules.Engine, ev *callback.Event, buf []*rules.Rule) []*rules.Rule {
	if t.n.Add(1)%uint64(t.o.Every) != 0 {
		return engine.Match(ev, buf)
	}
	return engine.MatchTimed(ev, buf, t.o.Clock, t.observe)
}

// observe records how long r took on one event.
func (t *matchTimer) observe(r *rules.Rule, took time.Duration) {
	t.seconds.WithLabelValues(r.Name).Observe(took.Seconds())
	if took < t.o.Slow {
		return
	}
	t.slow.WithLabelValues(r.Name).Inc()
	now := t.o.Clock()
	t.mu.Lock()
	last, ok := t.warned[r.Name]
	if ok && now.Sub(last) < slowWarnEvery {
		t.mu.Unlock()
		return
	}
	if len(t.warned) >= maxWarned {
		clear(t.warned)
	}
	t.warned[r.Name] = now
	t.mu.Unlock()
	t.logger.Warn("slow rule: its conditions took long to match one event", "rule", r.Name,
		"file", r.File, "line", r.Line, "took", took, "slow", t.o.Slow)
}
