package rules

import (
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
)

// Matcher is a compiled match block outside a rule, such as a silence's
// matchers: the same fields, aliases, lists, ranges, glob, regex and
// not/any/all as a rule's match:, validated with the same errors.
type Matcher struct {
	cond allOf
}

// Matches reports whether ev satisfies every condition.
func (m *Matcher) Matches(ev *callback.Event) bool { return m.cond.match(ev) }

// CompileMatch compiles src, a match block written in YAML or JSON (a
// mapping of conditions), into a Matcher. label names the block in errors
// (`silence`); name is the file name they carry. An empty block is an
// error: it would match every event. Errors are yamlfile.Errors.
func CompileMatch(name, label string, src []byte) (*Matcher, error) {
	doc, err := yamlfile.Parse(name, src)
	if err != nil {
		return nil, err
	}
	if doc.Root == nil || len(doc.Root.Content) == 0 {
		return nil, yamlfile.Errors{doc.Errorf(doc.Root, "%s: matchers: at least one condition is required", label)}
	}
	mc := &matchCompiler{doc: doc, label: label}
	c := mc.block("match", doc.Root)
	if len(mc.errs) > 0 {
		return nil, mc.errs
	}
	if len(c) == 0 {
		return nil, yamlfile.Errors{doc.Errorf(doc.Root, "%s: matchers: at least one condition is required", label)}
	}
	return &Matcher{cond: c}, nil
}
