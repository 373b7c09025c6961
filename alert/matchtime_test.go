package alert

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
)

// stepClock advances by step at every read.
type stepClock struct {
	t    time.Time
	step time.Duration
}

func (c *stepClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

func sampleCount(t *testing.T, m *Metrics, rule string) uint64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.matchSeconds)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, x := range mf.GetMetric() {
			for _, l := range x.GetLabel() {
				if l.GetName() == "rule" && l.GetValue() == rule {
					return x.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// A rule whose conditions take long shows up in the metric and in a
// warning, at most once a minute per rule; a fast one in the metric only.
func TestSlowRuleIsReported(t *testing.T) {
	e := compile(t, `rules:
  - name: slow
    match: {from_account: {regex: "^bot_"}}
    throttle: 0s
    receivers: [console]
`)
	clk := &stepClock{t: t0, step: 20 * time.Millisecond} // every rule "takes" 20ms
	var logs bytes.Buffer
	m := NewMetrics(prometheus.NewRegistry())
	p := NewPipeline(PipelineOptions{Rules: e, Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		MatchTiming: MatchTiming{Every: 1, Clock: clk.now}})
	ev := exceptionEvent(t, t0, "bot_1")
	evaluate(p, ev, ev, ev)
	if n := sampleCount(t, m, "slow"); n != 3 {
		t.Errorf("%d timed matches, want 3", n)
	}
	if got := promtest.ToFloat64(m.slowMatches.WithLabelValues("slow")); got != 3 {
		t.Errorf("imalert_rule_slow_matches_total = %v, want 3", got)
	}
	if n := strings.Count(logs.String(), "slow rule"); n != 1 || !strings.Contains(logs.String(), "rule=slow") {
		t.Errorf("%d warnings, want 1 within a minute:\n%s", n, logs.String())
	}
	clk.t = clk.t.Add(slowWarnEvery)
	evaluate(p, ev)
	if n := strings.Count(logs.String(), "slow rule"); n != 2 {
		t.Errorf("%d warnings, want a second one a minute later", n)
	}

	// Fast: measured, never warned about.
	logs.Reset()
	clk.step = time.Microsecond
	m2 := NewMetrics(prometheus.NewRegistry())
	p2 := NewPipeline(PipelineOptions{Rules: e, Metrics: m2, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		MatchTiming: MatchTiming{Every: 1, Clock: clk.now}})
	evaluate(p2, ev)
	if sampleCount(t, m2, "slow") != 1 || promtest.ToFloat64(m2.slowMatches.WithLabelValues("slow")) != 0 || logs.Len() != 0 {
		t.Errorf("a fast rule: %d samples, slow %v, logs %q", sampleCount(t, m2, "slow"), promtest.ToFloat64(m2.slowMatches.WithLabelValues("slow")), logs.String())
	}
}

// Only one event in Every is timed: the hot path stays untimed.
func TestMatchTimingSamples(t *testing.T) {
	e := compile(t, "rules:\n  - name: r\n    throttle: 0s\n    receivers: [console]\n")
	clk := &stepClock{t: t0, step: time.Microsecond}
	m := NewMetrics(prometheus.NewRegistry())
	p := NewPipeline(PipelineOptions{Rules: e, Metrics: m, MatchTiming: MatchTiming{Every: 4, Clock: clk.now}})
	ev := exceptionEvent(t, t0, "a")
	for range 10 {
		evaluate(p, ev)
	}
	if n := sampleCount(t, m, "r"); n != 2 {
		t.Errorf("%d of 10 events timed, want 2 (one in 4)", n)
	}
	before := clk.t
	evaluate(p, ev) // the 11th: not timed
	if !clk.t.Equal(before) {
		t.Error("an event outside the sample read the clock")
	}
}
