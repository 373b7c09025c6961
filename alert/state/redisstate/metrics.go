package redisstate

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the shared state's Prometheus metrics.
type Metrics struct {
	policy     *prometheus.GaugeVec
	up         prometheus.Gauge
	errors     prometheus.Counter
	without    *prometheus.CounterVec
	conflicts  prometheus.Counter
	unreleased prometheus.Counter
}

// NewMetrics registers the metrics with r (nil: not registered).
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		policy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "imalert_state_redis_policy", Help: "1 for the policy in effect when Redis does not answer (fail_open or fail_closed).",
		}, []string{"policy"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imalert_state_redis_up", Help: "1 while Redis answers, 0 while it is treated as down.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_state_redis_errors_total", Help: "Redis calls that failed or timed out.",
		}),
		without: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_state_decisions_without_redis_total", Help: "Decision state changes made without Redis: taken on this replica's memory (fail_open) or held back with their callbacks in the journal (fail_closed; counted per attempt).",
		}, []string{"policy"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_state_claim_conflicts_total", Help: "Batches decided again because another replica changed one of their keys first.",
		}),
		unreleased: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "imalert_state_claims_unreleased_total", Help: "Keys claimed for a batch whose commit failed that could not be put back (written over by another replica, or Redis down).",
		}),
	}
	if r != nil {
		r.MustRegister(m.policy, m.up, m.errors, m.without, m.conflicts, m.unreleased)
	}
	return m
}
