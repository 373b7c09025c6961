package alert

import (
	"errors"
	"fmt"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
)

// thresholdStep records a match at now and reports how many of the key's
// latest matches fall within th.Within, and whether that reaches th.Count.
// It keeps at most th.Count times per key.
func thresholdStep(st *keyState, now time.Time, th rules.Threshold) (count int, reached bool) {
	if len(st.hits) < th.Count {
		st.hits = append(st.hits, now)
	} else if th.Count > 0 {
		if len(st.hits) > th.Count { // the rule's count shrank
			st.hits, st.next = st.hits[len(st.hits)-th.Count:], 0
		}
		st.hits[st.next] = now
		st.next = (st.next + 1) % th.Count
	}
	for _, h := range st.hits {
		if now.Sub(h) < th.Within {
			count++
		}
	}
	return count, count >= th.Count
}

// firstSeenStep marks the key seen and reports whether it was new.
func firstSeenStep(st *keyState) bool {
	if st.seen {
		return false
	}
	st.seen = true
	return true
}

// decideSteps runs a rule's decisions on st in order: threshold, first
// seen, throttle. It is pure: the verdict depends only on st, now and the
// rule.
func decideSteps(st *keyState, now time.Time, r *rules.Rule) Decision {
	count := 0
	if r.Threshold.Count > 0 {
		var reached bool
		count, reached = thresholdStep(st, now, r.Threshold)
		if !reached {
			return Decision{Reason: ReasonBelowThreshold, Count: count, Until: now}
		}
	}
	if r.FirstSeen {
		if !firstSeenStep(st) {
			return Decision{Reason: ReasonSeenBefore, Count: count, Until: now}
		}
		return Decision{Notify: true, Reason: ReasonFirstSeen, Count: count, Until: now}
	}
	d := throttleStep(st, now, ThrottlePolicy{Window: r.Throttle, Max: r.ThrottleMax})
	d.Count = count
	return d
}

// DecideRule decides whether ev's match of rule r, under group key key,
// pages at now. State is kept per rule StateKey and group key, so a reload
// that keeps the rule's decision settings keeps its windows and counts.
func (t *Throttler) DecideRule(now time.Time, r *rules.Rule, key string) Decision {
	if r.Threshold.Count == 0 && !r.FirstSeen && r.Throttle <= 0 {
		return Decision{Notify: true, Reason: ReasonNoWindow, Until: now}
	}
	return t.update(now, r.StateKey+"\x00"+key, func(st *keyState) (Decision, time.Duration) {
		d := decideSteps(st, now, r)
		if r.FirstSeen { // "ever": kept until evicted
			return d, gocache.NoExpiration
		}
		life := time.Duration(0)
		if !st.end.IsZero() {
			life = t.throttleLife(st, now)
		}
		if r.Threshold.Count > 0 {
			life = max(life, r.Threshold.Within)
		}
		return d, life
	})
}

// Outcome is what became of one rule an event matched.
type Outcome struct {
	Rule     *rules.Rule
	Key      string // the group key
	Decision Decision
	// Notifications are the pages to send, one per receiver, when
	// Decision.Notify is true.
	Notifications []*Notification
	// RenderErr is set when the rule's title or body template failed on
	// this event; the notifications then use the standard layout.
	RenderErr error
}

// Evaluate matches ev against the current rules and decides each match at
// ev.ReceivedAt, building the notifications a page needs. It delivers
// nothing: Process sends what it returns, and a dry run prints it. buf is
// scratch space for the matched rules, returned for reuse.
func (p *Pipeline) Evaluate(ev *callback.Event, buf []*rules.Rule) ([]Outcome, []*rules.Rule) {
	engine := p.rules.Load()
	cat := engine.Catalogue()
	if cat == nil {
		cat = p.catalogue
	}
	buf = engine.Match(ev, buf)
	if len(buf) == 0 {
		return nil, buf
	}
	outs := make([]Outcome, 0, len(buf))
	for _, r := range buf {
		o := Outcome{Rule: r, Key: r.GroupKey(ev)}
		if r.Digest > 0 {
			// Summarised per interval instead: no per-event decision.
			o.Decision = Decision{Reason: ReasonDigest, Until: ev.ReceivedAt}
			outs = append(outs, o)
			continue
		}
		o.Decision = p.throttle.DecideRule(ev.ReceivedAt, r, o.Key)
		if o.Decision.Notify {
			o.Notifications, o.RenderErr = notifications(ev, r, o.Key, o.Decision, cat)
		}
		outs = append(outs, o)
	}
	return outs, buf
}

// notifications builds one notification per receiver of r, rendering the
// rule's templates for each.
func notifications(ev *callback.Event, r *rules.Rule, key string, d Decision, cat *callback.Catalogue) ([]*Notification, error) {
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
	out := make([]*Notification, 0, len(r.Receivers))
	for _, recv := range r.Receivers {
		n := &Notification{
			ID:          newID(),
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
			n.Threshold = ThresholdCount{Count: d.Count, Within: r.Threshold.Within}
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
func render(n *Notification, r *rules.Rule) error {
	if r.Title == nil && r.Body == nil {
		return nil
	}
	data := templateData(n)
	var title, body Rendered
	for _, t := range []struct {
		tmpl *rules.Template
		dst  *Rendered
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
func templateData(n *Notification) *rules.TemplateData {
	d := rules.NewTemplateData(n.Event)
	d.Rule, d.Severity, d.Receiver, d.GroupKey = n.Rule, n.Severity, n.Receiver, n.GroupKey
	d.File, d.Line, d.Reason, d.Meaning = n.RuleFile, n.RuleLine, string(n.Reason), n.CodeMeaning
	t := n.Throttle
	d.Suppressed, d.Window, d.NextWindow = t.Suppressed, t.Window, t.Next
	d.Since, d.First, d.Last = t.Since, t.First, t.Last
	d.Count, d.Within = n.Threshold.Count, n.Threshold.Within
	return d
}

// record counts and logs one outcome.
func (p *Pipeline) record(o Outcome) {
	r, d := o.Rule, o.Decision
	p.metrics.matches.WithLabelValues(r.Name).Inc()
	p.metrics.decisions.WithLabelValues(r.Name, string(d.Reason)).Inc()
	switch {
	case d.Reason == ReasonThrottled:
		p.metrics.suppressed.WithLabelValues(r.Name).Inc()
		p.logger.Debug("throttled", "rule", r.Name, "key", o.Key, "suppressed", d.Suppressed, "until", d.Until)
	case !d.Notify:
		p.logger.Debug("held", "rule", r.Name, "key", o.Key, "reason", d.Reason, "count", d.Count)
	}
	if o.RenderErr != nil {
		p.logger.Warn("template failed: standard layout used", "rule", r.Name, "err", o.RenderErr.Error())
	}
}
