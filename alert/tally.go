package alert

import (
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
)

// tally is what a batch's events and outcomes add to the metrics, the
// log and the observer, applied once the batch is committed. Counts
// rather than a closure per event: a storm batch decides thousands of
// events, nearly all of them alike.
type tally struct {
	debug    bool                // the log takes debug lines
	events   map[string]int      // by command label
	decided  map[decisionKey]int // by rule and reason
	observed []*callback.Event   // for the observer, when there is one
	logged   []Outcome           // outcomes with a line to log
}

type decisionKey struct {
	rule   string
	reason notify.Reason
}

func (t *tally) event(command string) {
	if t.events == nil {
		t.events = map[string]int{}
	}
	t.events[command]++
}

func (t *tally) outcome(o Outcome) {
	if t.decided == nil {
		t.decided = map[decisionKey]int{}
	}
	t.decided[decisionKey{o.Rule.Name, o.Decision.Reason}]++
	if o.RenderErr != nil || t.debug && (o.Decision.Reason == notify.ReasonThrottled || !o.Decision.Notify) {
		t.logged = append(t.logged, o)
	}
}

// record applies t.
func (p *Pipeline) record(t *tally) {
	for command, n := range t.events {
		p.metrics.events.WithLabelValues(command).Add(float64(n))
	}
	for k, n := range t.decided {
		p.metrics.matches.WithLabelValues(k.rule).Add(float64(n))
		p.metrics.decisions.WithLabelValues(k.rule, string(k.reason)).Add(float64(n))
		if k.reason == notify.ReasonThrottled {
			p.metrics.suppressed.WithLabelValues(k.rule).Add(float64(n))
		}
	}
	if p.observer != nil {
		for _, ev := range t.observed {
			p.observer.Observe(ev)
		}
	}
	for _, o := range t.logged {
		r, d := o.Rule, o.Decision
		switch {
		case d.Reason == notify.ReasonThrottled:
			p.logger.Debug("throttled", "rule", r.Name, "key", o.Key, "suppressed", d.Suppressed, "until", d.Until)
		case !d.Notify:
			p.logger.Debug("held", "rule", r.Name, "key", o.Key, "reason", d.Reason, "count", d.Count)
		}
		if o.RenderErr != nil {
			p.logger.Warn("template failed: standard layout used", "rule", r.Name, "err", o.RenderErr.Error())
		}
	}
}
