package delivery

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the dispatcher's Prometheus metrics.
type Metrics struct {
	attempts   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	failures   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	dead       *prometheus.CounterVec
	merged     *prometheus.CounterVec
	rerouted   *prometheus.CounterVec
	held       *prometheus.CounterVec
	storms     *prometheus.CounterVec
}

// NewMetrics registers the dispatcher's metrics with r (nil: not
// registered).
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
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
	}
	m.held = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imalert_delivery_held_total", Help: "Pages held over their receiver's budget, by receiver; a storm page accounts for them.",
	}, []string{"receiver"})
	m.storms = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "imalert_delivery_storm_pages_total", Help: "Storm pages written at the end of a budget period that held pages, by receiver.",
	}, []string{"receiver"})
	if r != nil {
		r.MustRegister(m.held, m.storms)
		r.MustRegister(m.attempts, m.deliveries, m.failures, m.latency, m.dead, m.merged, m.rerouted)
	}
	return m
}
