package config

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/yamlfile"
)

// Watchdog pages about imalert's own inputs and outputs: IM silent for too
// long (IM never retries a callback, so silence may be the incident), or a
// receiver failing for too long. Off unless receiver is set.
type Watchdog struct {
	// NoCallbacksFor pages when no callback arrived for this long; 0: off.
	NoCallbacksFor yamlfile.Duration `yaml:"no_callbacks_for"`
	// ReceiverFailingFor pages when a receiver's deliveries have been
	// failing for this long; 0: off.
	ReceiverFailingFor yamlfile.Duration `yaml:"receiver_failing_for"`
	// Receiver takes the watchdog's pages. A failing receiver is never
	// paged through itself.
	Receiver string `yaml:"receiver"`
}

// Enabled reports whether the watchdog runs.
func (w Watchdog) Enabled() bool { return w.Receiver != "" }

// minWatch is the shortest period the watchdog accepts: it checks a few
// times a minute.
const minWatch = time.Minute

func (w Watchdog) validate(doc *yamlfile.Doc, n *yaml.Node, receivers map[string]bool) yamlfile.Errors {
	var errs yamlfile.Errors
	for _, d := range []struct {
		key string
		v   yamlfile.Duration
	}{{"no_callbacks_for", w.NoCallbacksFor}, {"receiver_failing_for", w.ReceiverFailingFor}} {
		if d.v != 0 && d.v < yamlfile.Duration(minWatch) {
			errs = append(errs, doc.Errorf(yamlfile.At(n, d.key), "watchdog.%s must be 0 (off) or at least 1m", d.key))
		}
	}
	switch {
	case w.Receiver == "" && (w.NoCallbacksFor != 0 || w.ReceiverFailingFor != 0):
		errs = append(errs, doc.Errorf(n, "watchdog: receiver is required: the receiver that takes the watchdog's pages"))
	case w.Receiver != "" && !receivers[w.Receiver]:
		errs = append(errs, doc.Errorf(yamlfile.At(n, "receiver"), "watchdog.receiver: no receiver named %q", w.Receiver))
	case w.Receiver != "" && w.NoCallbacksFor == 0 && w.ReceiverFailingFor == 0:
		errs = append(errs, doc.Errorf(n, "watchdog: set no_callbacks_for, receiver_failing_for or both"))
	}
	return errs
}
