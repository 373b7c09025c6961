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
	queued            *prometheus.GaugeVec
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
			Name: "imalert_deliveries_total", Help: "Notifications finished, by receiver and result (sent, failed).",
		}, []string{"receiver", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_delivery_failures_total", Help: "Failed delivery attempts, by receiver and reason.",
		}, []string{"receiver", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "imalert_delivery_duration_seconds", Help: "Duration of delivery attempts, by receiver.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"receiver"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "imalert_delivery_queue_length", Help: "Notifications waiting for delivery, by receiver.",
		}, []string{"receiver"}),
	}
	if r != nil {
		r.MustRegister(m.events, m.matches, m.decisions, m.notifications, m.suppressed, m.throttleEvictions,
			m.attempts, m.deliveries, m.failures, m.latency, m.queued)
	}
	return m
}
