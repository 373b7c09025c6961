package daemon

import (
	"context"
	"log/slog"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/watchdog"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/store"
)

// runWatchdog runs the watchdog configured in c until ctx ends; it
// returns at once when none is.
func runWatchdog(ctx context.Context, c config.Watchdog, st *store.Store, d *delivery.Dispatcher, logger *slog.Logger) {
	if !c.Enabled() {
		return
	}
	watchdog.New(watchdog.Options{
		Logger: logger.With("component", "watchdog"), Source: st, Outbox: st, Waker: d, Receiver: c.Receiver,
		NoCallbacksFor: c.NoCallbacksFor.D(), ReceiverFailingFor: c.ReceiverFailingFor.D(),
	}).Run(ctx)
}
