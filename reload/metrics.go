package reload

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	success     prometheus.Gauge
	successTime prometheus.Gauge
	reloads     *prometheus.CounterVec
	rules       prometheus.Gauge
	restart     prometheus.Gauge
}

func newMetrics(r prometheus.Registerer) metrics {
	m := metrics{
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imalert_config_last_reload_successful", Help: "Whether the last reload succeeded (1) or kept the running config and rules (0).",
		}),
		successTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imalert_config_last_reload_success_timestamp_seconds", Help: "When the config and rules last loaded successfully, at start or by a reload.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "imalert_config_reloads_total", Help: "Reloads, by trigger (signal, watch, api) and result (success, failure).",
		}, []string{"trigger", "result"}),
		rules: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imalert_rules_loaded", Help: "Rules in the running rule set.",
		}),
		restart: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "imalert_config_restart_pending_settings", Help: "Settings changed in the config since start that apply only at the next restart.",
		}),
	}
	if r != nil {
		r.MustRegister(m.success, m.successTime, m.reloads, m.rules, m.restart)
	}
	return m
}

// loaded records the rule set the daemon started with.
func (m metrics) loaded(rules int) {
	m.success.Set(1)
	m.successTime.SetToCurrentTime()
	m.rules.Set(float64(rules))
}

func (m metrics) succeeded(trigger string, rules, restart int) {
	m.loaded(rules)
	m.restart.Set(float64(restart))
	m.reloads.WithLabelValues(trigger, "success").Inc()
}

func (m metrics) failed(trigger string) {
	m.success.Set(0)
	m.reloads.WithLabelValues(trigger, "failure").Inc()
}
