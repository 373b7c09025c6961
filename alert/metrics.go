package alert

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the alert pipeline's Prometheus metrics.
type Metrics struct {
	events            *prometheus.CounterVec
	matches           *prometheus.CounterVec
	decisions         *prometheus.CounterVec
	notifications     *prometheus.CounterVec
	suppressed        *prometheus.CounterVec
	throttleEvictions prometheus.Counter
	attempts          *prometheus.CounterVec
	deliveries        *prometheus.CounterVec
	failures          *prometheus.CounterVec
	latency           *prometheus.HistogramVec
	dead              *prometheus.CounterVec
	merged            *prometheus.CounterVec
	rerouted          *prometheus.CounterVec
	digests           *prometheus.CounterVec
	unparsable        prometheus.Counter
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
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_delivery_attempts_total", Help: "Delivery attempts, by receiver.",
		}, []string{"receiver"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_deliveries_total", Help: "Notifications finished, by receiver and result (sent, dead).",
		}, []string{"receiver", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_delivery_failures_total", Help: "Failed delivery attempts, by receiver and reason.",
		}, []string{"receiver", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "imalert_delivery_duration_seconds", Help: "Duration of delivery attempts, by receiver.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"receiver"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_delivery_dead_letters_total", Help: "Notifications given up and kept as dead letters, by receiver.",
		}, []string{"receiver"}),
		merged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_delivery_merged_total", Help: "Notifications merged into another one for the same rule and key while their receiver was backed up, by receiver.",
		}, []string{"receiver"}),
		rerouted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_delivery_rerouted_total", Help: "Notifications handed to a rule's fallback receiver, by failing receiver and fallback.",
		}, []string{"receiver", "fallback"}),
		digests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_digests_total", Help: "Digests closed, by rule.",
		}, []string{"rule"}),
		unparsable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_journal_unparsable_total", Help: "Journal entries the current parser refuses; they are marked processed.",
		}),
	}
	if r != nil {
		r.MustRegister(m.events, m.matches, m.decisions, m.notifications, m.suppressed, m.throttleEvictions,
			m.attempts, m.deliveries, m.failures, m.latency, m.dead, m.merged, m.rerouted, m.digests, m.unparsable)
	}
	return m
}
