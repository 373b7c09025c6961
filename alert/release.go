package alert

import (
	"context"
	"errors"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/rules"
)

// ReleaseWindow gives back the throttle window that a page given up on (a
// dead letter) opened, when the decision state is shared: the window ends
// at once, keeping what it held back, so that the next matching event, on
// whichever replica, pages and carries the count. A window is not used up
// by a page that never went out. A window the page did not open (a later
// one), or a store of one node, is left as it is; there the dead letter
// is the record.
func (p *Pipeline) ReleaseWindow(ctx context.Context, n *notify.Notification) {
	sh, ok := p.states.(state.Shared)
	if !ok || n.Kind() != notify.KindEvent {
		return
	}
	var r *rules.Rule
	for _, c := range p.rules.Load().Rules() {
		if c.Name == n.Rule {
			r = c
		}
	}
	if r == nil || r.Throttle <= 0 {
		return
	}
	key := stateKey(r, n.GroupKey)
	for range maxClaims {
		e, ok, v, err := sh.Load(ctx, key)
		if err != nil || !ok || !e.State.Start.Equal(n.CreatedAt) || !n.CreatedAt.Before(e.State.End) {
			if err != nil {
				p.logger.Warn("window of a page given up not released", "rule", n.Rule, "key", n.GroupKey, "err", err)
			}
			return
		}
		released := e
		released.State.End = released.State.Start
		_, err = sh.Claim(ctx, []state.Change{{Key: key, Read: v, Old: &e, Entry: released}})
		if err == nil {
			p.logger.Info("window released: the page that opened it was given up", "rule", n.Rule, "key", n.GroupKey, "suppressed", e.State.Suppressed)
			return
		}
		if !errors.Is(err, state.ErrConflict) {
			p.logger.Warn("window of a page given up not released", "rule", n.Rule, "key", n.GroupKey, "err", err)
			return
		}
	}
}
