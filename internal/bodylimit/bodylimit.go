// Package bodylimit defines the bounds on the work done for one callback
// body, once: the callback parser applies them and the config file's
// callback.limits sets them. It imports nothing, so that both callback and
// config, which import no other imalert package, can share it.
package bodylimit

// DefaultMaxBodyBytes is the largest request body taken when
// server.max_body_bytes is not set: the one hard refusal, at the HTTP
// layer.
const DefaultMaxBodyBytes = 1 << 20

// Limits bound the work done on one body. A zero value takes its default.
// None of them refuses a callback: what exceeds a count is left out and
// counted, and a longer string is cut. (The request body's size is the one
// hard refusal, at the HTTP layer.)
type Limits struct {
	// MaxDepth is the JSON nesting a kept value may have.
	MaxDepth int `yaml:"max_json_depth"`
	// MaxElements is how many MsgBody elements are kept.
	MaxElements int `yaml:"max_msg_elements"`
	// MaxFields is how many top-level fields of one event body are kept.
	MaxFields int `yaml:"max_fields"`
	// MaxEvents is how many events of one Push.* batch are kept.
	MaxEvents int `yaml:"max_push_events"`
	// MaxTextBytes is how much of any one string is kept; a longer value is
	// cut at a UTF-8 boundary.
	MaxTextBytes int `yaml:"max_text_bytes"`
}

// Default returns the limits used where none are set. They are generous
// for anything IM sends: its deepest documented body nests about five
// levels, a message holds a handful of elements, the widest body has about
// fifteen fields, a Push batch holds at most 100 events, and a message is at
// most 12 KB.
func Default() Limits {
	return Limits{MaxDepth: 32, MaxElements: 256, MaxFields: 256, MaxEvents: 200, MaxTextBytes: 16 << 10}
}

// WithDefaults returns l with every zero (or negative) limit set to its
// default.
func (l Limits) WithDefaults() Limits {
	d := Default()
	for _, p := range []struct{ v, def *int }{
		{&l.MaxDepth, &d.MaxDepth}, {&l.MaxElements, &d.MaxElements}, {&l.MaxFields, &d.MaxFields},
		{&l.MaxEvents, &d.MaxEvents}, {&l.MaxTextBytes, &d.MaxTextBytes},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	return l
}

// Setting is one limit as the config file names it, with its value and the
// range a config may set it to.
type Setting struct {
	Key      string // YAML key under callback.limits
	Value    int
	Min, Max int
}

// OK reports whether the value is within the range.
func (s Setting) OK() bool { return s.Value >= s.Min && s.Value <= s.Max }

// Settings lists l's limits with their accepted ranges. The minimums keep
// every documented IM body whole: a batch of 100 events, a body of 15
// fields, a 12 KB message.
func (l Limits) Settings() []Setting {
	return []Setting{
		{"max_json_depth", l.MaxDepth, 8, 1024},
		{"max_msg_elements", l.MaxElements, 1, 1 << 16},
		{"max_fields", l.MaxFields, 16, 1 << 16},
		{"max_push_events", l.MaxEvents, 100, 1 << 16},
		{"max_text_bytes", l.MaxTextBytes, 1024, 64 << 20},
	}
}
