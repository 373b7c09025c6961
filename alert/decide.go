package alert

import (
	"context"
	"errors"
	"fmt"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
)

// Outcome is what became of one rule an event matched.
type Outcome struct {
	Rule     *rules.Rule
	Key      string // the group key
	Decision Decision
	// Silences are the IDs of the silences that held the event, when
	// Decision.Reason is notify.ReasonSilenced.
	Silences []string
	// Notifications are the pages to send, one per receiver, when
	// Decision.Notify is true.
	Notifications []*notify.Notification
	// RenderErr is set when the rule's title or body template failed on
	// this event; the notifications then use the standard layout.
	RenderErr error
}

// Evaluate matches ev against the current rules and decides each match at
// ev.ReceivedAt, building the notifications a page needs, and keeps the
// decision state it leaves at once. It delivers nothing: a dry run prints
// what it returns. buf is scratch space for the matched rules, returned for
// reuse. Should the state store fail, the matches are decided as if their
// keys had no state (fail open), and the failure is logged.
func (p *Pipeline) Evaluate(ev *callback.Event, buf []*rules.Rule) ([]Outcome, []*rules.Rule) {
	ctx := context.Background()
	sv := newStates(p.states)
	outs, buf, err := p.evaluate(ctx, sv, ev, buf)
	if err != nil {
		p.logger.Warn("decision state unavailable: deciding without it", "err", err)
		sv = newStates(nil)
		outs, buf, _ = p.evaluate(ctx, sv, ev, buf)
	}
	p.apply(ctx, sv.pending)
	return outs, buf
}

// states is the decision state a batch sees: the entries it decided,
// kept apart until its commit succeeds, over the store.
type states struct {
	store   state.Store // nil: the pending entries alone
	pending map[string]state.Entry
	// With a shared store, what each key was decided from, for the claim.
	shared state.Shared
	read   map[string]state.Change
}

func newStates(s state.Store) *states {
	sv := &states{store: s, pending: map[string]state.Entry{}}
	if sh, ok := s.(state.Shared); ok {
		sv.shared, sv.read = sh, map[string]state.Change{}
	}
	return sv
}

func (sv *states) get(ctx context.Context, key string) (state.Entry, error) {
	if e, ok := sv.pending[key]; ok {
		return e, nil
	}
	if c, ok := sv.read[key]; ok {
		if c.Old != nil {
			return *c.Old, nil
		}
		return state.Entry{}, nil
	}
	if sv.shared != nil {
		e, ok, v, err := sv.shared.Load(ctx, key)
		c := state.Change{Key: key, Read: v}
		if ok {
			c.Old = &e
		}
		sv.read[key] = c
		return e, err
	}
	if sv.store == nil {
		return state.Entry{}, nil
	}
	e, _, err := sv.store.Get(ctx, key)
	return e, err
}

// prefetch loads keys from the shared store in one round trip, so that
// deciding a batch again after a conflict reads its keys at once.
func (sv *states) prefetch(ctx context.Context, keys []string) error {
	if sv.shared == nil || len(keys) == 0 {
		return nil
	}
	cs, err := sv.shared.LoadAll(ctx, keys)
	if err != nil {
		return fmt.Errorf("alert: decision state: %w", err)
	}
	for _, c := range cs {
		sv.read[c.Key] = c
	}
	return nil
}

// changes are the batch's decisions as a claim on the shared store.
func (sv *states) changes() []state.Change {
	cs := make([]state.Change, 0, len(sv.pending))
	for key, e := range sv.pending {
		c := sv.read[key]
		c.Entry = e
		cs = append(cs, c)
	}
	return cs
}

// evaluate is Evaluate over the state in sv, whose pending entries it
// updates with the states its decisions leave.
func (p *Pipeline) evaluate(ctx context.Context, sv *states, ev *callback.Event, buf []*rules.Rule) ([]Outcome, []*rules.Rule, error) {
	engine := p.rules.Load()
	cat := engine.Catalogue()
	if cat == nil {
		cat = p.catalogue
	}
	buf = p.timer.match(engine, ev, buf)
	if len(buf) == 0 {
		return nil, buf, nil
	}
	if outs, ok := p.silencedOutcomes(ev, buf); ok {
		return outs, buf, nil
	}
	outs := make([]Outcome, 0, len(buf))
	for _, r := range buf {
		o := Outcome{Rule: r, Key: r.GroupKey(ev)}
		var top []notify.Count // the groups or senders a threshold counted
		var more int
		switch {
		case r.Digest > 0:
			// Summarised per interval instead: no per-event decision.
			o.Decision = Decision{Reason: notify.ReasonDigest, Until: ev.ReceivedAt}
			outs = append(outs, o)
			continue
		case stateless(r):
			o.Decision = Decision{Notify: true, Reason: notify.ReasonNoWindow, Until: ev.ReceivedAt}
		default:
			key := stateKey(r, o.Key)
			old, err := sv.get(ctx, key)
			if err != nil {
				return nil, buf, fmt.Errorf("alert: decision state: %w", err)
			}
			var next state.Entry
			var who string
			if f := countedBy(r); f != "" {
				who, _ = ev.Field(f)
			}
			o.Decision, next = decideWho(old, ev.ReceivedAt, r, who)
			sv.pending[key] = next
			if o.Decision.Notify && r.Threshold.Count > 0 {
				top, more = counted(next.State, ev.ReceivedAt, r.Threshold.Within)
			}
		}
		if o.Decision.Notify {
			o.Notifications, o.RenderErr = notifications(ev, r, o.Key, o.Decision, cat)
			for _, n := range o.Notifications {
				n.Threshold.Top, n.Threshold.More = top, more
			}
		}
		outs = append(outs, o)
	}
	return outs, buf, nil
}

// apply stores the entries decided, once they are committed. A shared
// store has them already: the batch claimed them before its commit.
func (p *Pipeline) apply(ctx context.Context, pending map[string]state.Entry) {
	if _, shared := p.states.(state.Shared); shared {
		return
	}
	for key, e := range pending {
		if err := p.states.Put(ctx, key, e); err != nil {
			// The store has it: a restart restores it.
			p.logger.Warn("keeping decision state failed", "err", err)
			return
		}
	}
}

// notifications builds one notification per receiver of r, rendering the
// rule's templates for each.
func notifications(ev *callback.Event, r *rules.Rule, key string, d Decision, cat *callback.Catalogue) ([]*notify.Notification, error) {
	var info callback.CodeInfo
	if ev.Present.Has(callback.FieldErrorCode) {
		info, _ = cat.Lookup(ev.ErrorCode)
	}
	severity := r.Severity
	if severity == "" {
		severity = info.Severity
	}
	if severity == "" {
		severity = callback.SeverityWarning
	}
	carried := d.Carried
	if carried.Suppressed == 0 {
		carried.Window = d.Window
	}
	carried.Next = d.Window
	var errs []error
	out := make([]*notify.Notification, 0, len(r.Receivers))
	for _, recv := range r.Receivers {
		n := &notify.Notification{
			ID:          notify.NewID(),
			Receiver:    recv,
			Rule:        r.Name,
			RuleFile:    r.File,
			RuleLine:    r.Line,
			Severity:    severity,
			GroupKey:    key,
			Event:       ev,
			CodeMeaning: info.Meaning,
			Throttle:    carried,
			Reason:      d.Reason,
			CreatedAt:   ev.ReceivedAt,

			Fallback:      r.Fallback,
			FallbackAfter: r.FallbackAfter,
		}
		if r.Threshold.Count > 0 {
			n.Threshold = notify.ThresholdCount{Count: d.Count, Within: r.Threshold.Within, By: countedBy(r)}
		}
		if err := render(n, r); err != nil {
			errs = append(errs, err)
		}
		out = append(out, n)
	}
	return out, errors.Join(errs...)
}

// render fills n.Title and n.Body from r's templates. On an error both are
// left empty, so the page falls back to the standard layout rather than
// being lost.
func render(n *notify.Notification, r *rules.Rule) error {
	if r.Title == nil && r.Body == nil {
		return nil
	}
	data := templateData(n)
	var title, body notify.Rendered
	for _, t := range []struct {
		tmpl *rules.Template
		dst  *notify.Rendered
		what string
	}{{r.Title, &title, "title"}, {r.Body, &body, "body"}} {
		if t.tmpl == nil {
			continue
		}
		for _, m := range []struct {
			mode rules.Mode
			dst  *string
		}{{rules.ModeText, &t.dst.Text}, {rules.ModeSlack, &t.dst.Slack}, {rules.ModeHTML, &t.dst.HTML}} {
			s, err := t.tmpl.Render(m.mode, data)
			if err != nil {
				return fmt.Errorf("alert: rule %q: %s: %w", r.Name, t.what, err)
			}
			*m.dst = s
		}
	}
	n.Title, n.Body = title, body
	return nil
}

// templateData is what a rule's templates see for notification n.
func templateData(n *notify.Notification) *rules.TemplateData {
	d := rules.NewTemplateData(n.Event)
	d.Rule, d.Severity, d.Receiver, d.GroupKey = n.Rule, n.Severity, n.Receiver, n.GroupKey
	d.File, d.Line, d.Reason, d.Meaning = n.RuleFile, n.RuleLine, string(n.Reason), n.CodeMeaning
	t := n.Throttle
	d.Suppressed, d.Window, d.NextWindow = t.Suppressed, t.Window, t.Next
	d.Since, d.First, d.Last = t.Since, t.First, t.Last
	d.Count, d.Within = n.Threshold.Count, n.Threshold.Within
	return d
}
