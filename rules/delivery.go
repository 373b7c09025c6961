package rules

import (
	"strconv"
	"time"

	"github.com/imalert/imalert/internal/yamlfile"
)

// FallbackSpec names the receiver a rule's notifications go to when a
// receiver of the rule has been failing for After.
type FallbackSpec struct {
	Receiver string            `yaml:"receiver"`
	After    yamlfile.Duration `yaml:"after"`
}

// DefaultFallbackAfter applies to a fallback that sets no after.
const DefaultFallbackAfter = 5 * time.Minute

// MinDigest is the shortest digest interval: a digest is a summary, not a
// page per event.
const MinDigest = time.Minute

// compileDelivery compiles the rule's digest and fallback.
func compileDelivery(doc *yamlfile.Doc, s *Spec, opts Options, r *Rule) yamlfile.Errors {
	var errs yamlfile.Errors
	label := "rule " + strconv.Quote(s.Name)
	if _, dn := s.lookup("digest"); dn != nil {
		r.Digest = s.Digest.D()
		if r.Digest < MinDigest {
			errs = append(errs, doc.Errorf(dn, "%s: digest must be at least %s", label, MinDigest))
		}
	}
	if s.Fallback == nil {
		return errs
	}
	_, fn := s.lookup("fallback")
	f := s.Fallback
	switch {
	case f.Receiver == "":
		errs = append(errs, doc.Errorf(yamlfile.At(fn, "receiver"), "%s: fallback: receiver is required", label))
	case !opts.Receivers[f.Receiver]:
		errs = append(errs, doc.Errorf(yamlfile.At(fn, "receiver"), "%s: fallback: unknown receiver %q", label, f.Receiver))
	}
	for _, name := range s.Receivers {
		if name == f.Receiver {
			errs = append(errs, doc.Errorf(yamlfile.At(fn, "receiver"), "%s: fallback: %q is already one of the rule's receivers", label, f.Receiver))
		}
	}
	r.Fallback = f.Receiver
	r.FallbackAfter = DefaultFallbackAfter
	if _, an := yamlfile.Lookup(fn, "after"); an != nil {
		r.FallbackAfter = f.After.D()
		if r.FallbackAfter <= 0 {
			errs = append(errs, doc.Errorf(an, "%s: fallback: after must be positive", label))
		}
	}
	return errs
}
