package alert

import (
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
)

// silencedOutcomes decides every rule ev matched as silenced when an
// active silence matches ev, before any threshold, throttle or digest
// sees it; ok is false when none does.
func (p *Pipeline) silencedOutcomes(ev *callback.Event, matched []*rules.Rule) ([]Outcome, bool) {
	if p.silences == nil {
		return nil, false
	}
	ids := p.silences.Matching(ev, nil)
	if len(ids) == 0 {
		return nil, false
	}
	outs := make([]Outcome, 0, len(matched))
	for _, r := range matched {
		outs = append(outs, Outcome{
			Rule: r, Key: r.GroupKey(ev), Silences: ids,
			Decision: Decision{Reason: notify.ReasonSilenced, Until: ev.ReceivedAt},
		})
	}
	return outs, true
}

// holdSilenced counts ev in b for the silences that held it.
func (b *batch) holdSilenced(ev *callback.Event, outs []Outcome) {
	if len(outs) == 0 || len(outs[0].Silences) == 0 {
		return
	}
	matched := make([]*rules.Rule, len(outs))
	for i, o := range outs {
		matched[i] = o.Rule
	}
	b.silenced.Hold(outs[0].Silences, ev, matched)
}

// stageSilences adds to b the silences' new counts and the pages of the
// silences whose end is due at now; the result is applied once b is
// committed.
func (p *Pipeline) stageSilences(b *batch, now time.Time) *silence.Staged {
	if p.silences == nil {
		return nil
	}
	sg := p.silences.Stage(&b.silenced, now)
	b.Silences = sg.Updates
	for _, e := range sg.Ended {
		for _, recv := range e.Receivers {
			se := e.SilenceEnded
			n := &notify.Notification{
				ID: notify.NewID(), Receiver: recv, Rule: e.RuleList(), GroupKey: "silence " + e.ID,
				Severity: callback.SeverityInfo, Silence: &se, CreatedAt: now,
			}
			b.Notifications = append(b.Notifications, delivery.Encode(n))
		}
	}
	return sg
}

// applySilences makes sg, committed, the silences' state.
func (p *Pipeline) applySilences(sg *silence.Staged) {
	if sg != nil {
		p.silences.Apply(sg)
	}
}

// nextSilenceEnd bounds wait by when the next silence's end is due.
func (p *Pipeline) nextSilenceEnd(wait time.Duration) time.Duration {
	if p.silences == nil {
		return wait
	}
	return max(p.silences.NextEnd(p.now(), wait), 0)
}

// silencesChanged is signalled when a silence is added or expired; nil
// (never ready) without silences.
func (p *Pipeline) silencesChanged() <-chan struct{} {
	if p.silences == nil {
		return nil
	}
	return p.silences.Changed()
}

// SetSilences makes the pipeline consult s, as a dry run over the journal
// does with the silences of its data directory. Call it before Evaluate
// or Run.
func (p *Pipeline) SetSilences(s *silence.Set) { p.silences = s }
