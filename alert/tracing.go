package alert

import (
	"context"
	"strings"

	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/alert/trace"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// Observer sees every processed event, after its batch committed: the
// overview's counters.
type Observer interface {
	Observe(ev *callback.Event)
}

// Rules returns the rule set in use.
func (p *Pipeline) Rules() *rules.Engine { return p.rules.Load() }

// traceDecision is the trace row of outcome o of journal entry id.
func traceDecision(id int64, o Outcome) store.Decision {
	d := o.Decision
	r := trace.Record{
		GroupKey: o.Key, Notify: d.Notify, Reason: d.Reason, Until: d.Until, Window: d.Window,
		Suppressed: d.Suppressed, Count: d.Count, Threshold: o.Rule.Threshold.Count, Within: o.Rule.Threshold.Within,
	}
	if len(o.Silences) > 0 {
		r.By = "silence " + strings.Join(o.Silences, ", ")
	}
	return store.Decision{EventID: id, Rule: o.Rule.Name, Reason: string(d.Reason), Data: trace.Marshal(r)}
}

// DryRun decides ev (at its receive time) against the rules and the
// decision state in use, as the daemon would now, and changes nothing:
// the state it would leave is discarded.
func (p *Pipeline) DryRun(ev *callback.Event) []Outcome {
	sv := newStates(readOnly{p.states})
	outs, _, err := p.evaluate(context.Background(), sv, ev, nil)
	if err != nil {
		sv = newStates(nil)
		outs, _, _ = p.evaluate(context.Background(), sv, ev, nil)
	}
	return outs
}

// readOnly is a state store that is read and never written: evaluate
// keeps what it decides in its pending entries, which DryRun drops.
type readOnly struct{ state.Store }

func (readOnly) Put(context.Context, string, state.Entry) error { return nil }
func (readOnly) Delete(context.Context, string) error           { return nil }
