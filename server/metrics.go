package server

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	requests *prometheus.CounterVec
	ok       prometheus.Counter // requests "ok", looked up once: nearly every request
	duration prometheus.Histogram
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_callback_requests_total",
			Help: "Callback requests answered, by result (ok, duplicate, bad_query, bad_body, unknown_app, unauthorized, source_denied, rate_limited, too_large, busy).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "imalert_callback_duration_seconds",
			Help:    "Time from request to answer of callback requests.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2},
		}),
	}
	m.ok = m.requests.WithLabelValues("ok")
	if r != nil {
		r.MustRegister(m.requests, m.duration)
	}
	return m
}

// answered counts a request by its result.
func (m *metrics) answered(result string) {
	if result == "ok" {
		m.ok.Inc()
		return
	}
	m.requests.WithLabelValues(result).Inc()
}
