// Package watchdog pages about imalert's own inputs and outputs: IM has
// sent no callback for a while (IM never retries, so a silent IM may be
// the incident itself), or a receiver has been failing for a while. Each
// condition pages once when it starts and once ("resolved") when it ends,
// through a receiver other than the failing one, by way of the outbox like
// every other page.
package watchdog

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"time"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/store"
)

// Source is what the watchdog watches.
type Source interface {
	LastReceived(ctx context.Context) (time.Time, error)
	ReceiversHealth(ctx context.Context) ([]store.ReceiverHealth, error)
}

// Outbox takes the watchdog's pages.
type Outbox interface {
	Commit(ctx context.Context, b *store.Batch) error
}

// Waker is told that a receiver has a new page.
type Waker interface {
	Wake(receiver string)
}

// Options configure a Watchdog.
type Options struct {
	Logger *slog.Logger
	Source Source
	Outbox Outbox
	Waker  Waker // optional
	// Receiver takes the pages.
	Receiver string
	// NoCallbacksFor and ReceiverFailingFor are the two checks' periods;
	// 0 turns a check off.
	NoCallbacksFor, ReceiverFailingFor time.Duration
	// Every is how often Run checks; default a tenth of the shorter
	// period, between 5s and 1m.
	Every time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Rule is the rule name of the watchdog's pages.
const Rule = "imalert-watchdog"

// Watchdog checks and pages. Check and Run are not safe for concurrent use.
type Watchdog struct {
	o       Options
	started time.Time
	silent  bool            // the no-callbacks page is out
	failing map[string]bool // receivers whose failing page is out
}

// New returns a watchdog; the silence of IM is counted from now at the
// latest.
func New(o Options) *Watchdog {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Every <= 0 {
		shortest := o.NoCallbacksFor
		if shortest == 0 || (o.ReceiverFailingFor > 0 && o.ReceiverFailingFor < shortest) {
			shortest = o.ReceiverFailingFor
		}
		o.Every = min(max(shortest/10, 5*time.Second), time.Minute)
	}
	return &Watchdog{o: o, started: o.Now(), failing: map[string]bool{}}
}

// Run checks every Options.Every until ctx ends.
func (w *Watchdog) Run(ctx context.Context) {
	t := time.NewTicker(w.o.Every)
	defer t.Stop()
	for {
		if err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.o.Logger.Error("watchdog check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check looks once and writes the pages due.
func (w *Watchdog) Check(ctx context.Context) error {
	now := w.o.Now()
	var pages []*notify.Notification
	if w.o.NoCallbacksFor > 0 {
		last, err := w.o.Source.LastReceived(ctx)
		if err != nil {
			return err
		}
		pages = append(pages, w.checkSilence(now, last)...)
	}
	if w.o.ReceiverFailingFor > 0 {
		hs, err := w.o.Source.ReceiversHealth(ctx)
		if err != nil {
			return err
		}
		pages = append(pages, w.checkReceivers(now, hs)...)
	}
	if len(pages) == 0 {
		return nil
	}
	b := &store.Batch{ProcessedAt: now}
	for _, n := range pages {
		b.Notifications = append(b.Notifications, delivery.Encode(n))
	}
	if err := w.o.Outbox.Commit(ctx, b); err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	w.apply(pages)
	if w.o.Waker != nil {
		w.o.Waker.Wake(w.o.Receiver)
	}
	return nil
}

// apply records what the committed pages say is firing.
func (w *Watchdog) apply(pages []*notify.Notification) {
	for _, n := range pages {
		firing := n.Severity == callback.SeverityCritical
		if n.GroupKey == keySilence {
			w.silent = firing
		} else {
			w.failing[n.GroupKey[len(keyReceiver):]] = firing
		}
	}
}

const (
	keySilence  = "no-callbacks"
	keyReceiver = "receiver="
)

func (w *Watchdog) checkSilence(now, last time.Time) []*notify.Notification {
	since := last
	if since.Before(w.started) {
		since = w.started
	}
	quiet := now.Sub(since) >= w.o.NoCallbacksFor
	switch {
	case quiet && !w.silent:
		what := "never since imalert started"
		if !last.IsZero() {
			what = "last one at " + last.UTC().Format(page.TimeLayout)
		}
		w.o.Logger.Warn("watchdog: no callbacks", "for", w.o.NoCallbacksFor, "last", last)
		return []*notify.Notification{w.page(now, keySilence, callback.SeverityCritical,
			fmt.Sprintf("IM has sent no callback for %s", page.Duration(w.o.NoCallbacksFor)),
			what+". IM does not retry callbacks: check the IM console's callback URL, the network path and imalert's listener.")}
	case !quiet && w.silent:
		w.o.Logger.Info("watchdog: callbacks again", "last", last)
		return []*notify.Notification{w.page(now, keySilence, callback.SeverityInfo,
			"Resolved: IM sends callbacks again", "last one at "+last.UTC().Format(page.TimeLayout)+".")}
	}
	return nil
}

func (w *Watchdog) checkReceivers(now time.Time, hs []store.ReceiverHealth) []*notify.Notification {
	var out []*notify.Notification
	for _, h := range hs {
		failing := !h.FailingSince.IsZero() && now.Sub(h.FailingSince) >= w.o.ReceiverFailingFor
		key := keyReceiver + h.Receiver
		switch {
		case failing && !w.failing[h.Receiver]:
			if h.Receiver == w.o.Receiver {
				// Nothing else to page through: say it where it is seen.
				w.o.Logger.Error("watchdog: its own receiver is failing; no page possible", "receiver", h.Receiver,
					"since", h.FailingSince, "last_error", h.LastError)
				w.failing[h.Receiver] = true
				continue
			}
			w.o.Logger.Warn("watchdog: receiver failing", "receiver", h.Receiver, "since", h.FailingSince)
			out = append(out, w.page(now, key, callback.SeverityCritical,
				fmt.Sprintf("Receiver %s has been failing for %s", h.Receiver, page.Duration(now.Sub(h.FailingSince).Round(time.Second))),
				fmt.Sprintf("failing since %s; last error: %s. Its pages wait in the outbox (imalert deliveries --state pending).",
					h.FailingSince.UTC().Format(page.TimeLayout), page.Clean(h.LastError, page.MaxErrorInfo))))
		case h.FailingSince.IsZero() && w.failing[h.Receiver]:
			w.failing[h.Receiver] = false
			if h.Receiver == w.o.Receiver {
				continue
			}
			w.o.Logger.Info("watchdog: receiver recovered", "receiver", h.Receiver)
			out = append(out, w.page(now, key, callback.SeverityInfo, "Resolved: receiver "+h.Receiver+" delivers again",
				"last success at "+h.LastSuccess.UTC().Format(page.TimeLayout)+"."))
		}
	}
	return out
}

// page is a watchdog page: the standard layout's footer, with the title
// and body given here, escaped for each medium.
func (w *Watchdog) page(now time.Time, key, severity, title, body string) *notify.Notification {
	render := func(s string) notify.Rendered {
		return notify.Rendered{Text: s, Slack: page.Slack(s), HTML: html.EscapeString(s)}
	}
	return &notify.Notification{
		ID: notify.NewID(), Receiver: w.o.Receiver, Rule: Rule, Severity: severity, GroupKey: key,
		Event: &callback.Event{Command: "imalert.watchdog", ReceivedAt: now},
		Title: render(title), Body: render(body), CreatedAt: now,
	}
}
