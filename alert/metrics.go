package alert

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the decision pipeline's Prometheus metrics.
type Metrics struct {
	events            *prometheus.CounterVec
	matches           *prometheus.CounterVec
	decisions         *prometheus.CounterVec
	notifications     *prometheus.CounterVec
	suppressed        *prometheus.CounterVec
	throttleEvictions prometheus.Counter
	digests           *prometheus.CounterVec
	unparsable        prometheus.Counter
	summaries         *prometheus.CounterVec
	summariesDropped  prometheus.Counter
}

// NewMetrics registers the pipeline's metrics with r (nil: not registered).
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_events_processed_total", Help: "Callback events run through the rules, by callback command.",
		}, []string{"command"}),
		matches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_rule_matches_total", Help: "Events matched, by rule.",
		}, []string{"rule"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_rule_decisions_total", Help: "Decisions on matched events, by rule and reason (first, window_expired, no_throttle, first_seen, throttled, below_threshold, seen_before).",
		}, []string{"rule", "reason"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_notifications_total", Help: "Notifications created, by rule and receiver.",
		}, []string{"rule", "receiver"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_throttle_suppressed_total", Help: "Matching events held back by a throttle window, by rule.",
		}, []string{"rule"}),
		throttleEvictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_throttle_evictions_total", Help: "Decision state keys (throttle windows, threshold counts, first-seen marks) evicted to stay under throttle.max_keys.",
		}),
		digests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_digests_total", Help: "Digests closed, by rule.",
		}, []string{"rule"}),
		unparsable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_journal_unparsable_total", Help: "Journal entries the current parser refuses; they are marked processed.",
		}),
	}
	m.summaries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imalert_quiet_summaries_total", Help: "Quiet summaries sent: a throttle window that held events back ended with no new event, by rule.",
	}, []string{"rule"})
	m.summariesDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "imalert_quiet_summaries_untracked_total", Help: "Throttle windows not tracked for a quiet summary because throttle.max_keys windows already were; their count rides on the next page.",
	})
	if r != nil {
		r.MustRegister(m.summaries, m.summariesDropped)
		r.MustRegister(m.events, m.matches, m.decisions, m.notifications, m.suppressed, m.throttleEvictions, m.digests, m.unparsable)
	}
	return m
}
