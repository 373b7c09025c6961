package rules

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
)

// DefaultThrottle applies to rules that set no throttle: a rule that pages on
// every event would flood its channel during a storm.
const DefaultThrottle = 10 * time.Minute

// Rule is a compiled, immutable rule.
type Rule struct {
	Name      string
	File      string
	Line      int
	Severity  string // empty: take the error code's default severity
	Receivers []string
	GroupBy   []string // wire names
	Throttle  time.Duration
	// Digest, when set, replaces per-event pages with one summary per
	// interval.
	Digest time.Duration
	// Fallback receives the rule's notifications once a receiver has been
	// failing for FallbackAfter.
	Fallback      string
	FallbackAfter time.Duration

	commands   []string // empty: any command
	errorCodes []int64
	groupTypes []string // canonical
	fromAccts  []string

	order int // position in the rule set, for stable match order
}

// Matches reports whether ev satisfies every condition of the rule.
func (r *Rule) Matches(ev *callback.Event) bool {
	if len(r.commands) > 0 && !slices.Contains(r.commands, ev.Command) {
		return false
	}
	if len(r.errorCodes) > 0 && (!ev.Present.Has(callback.FieldErrorCode) || !slices.Contains(r.errorCodes, ev.ErrorCode)) {
		return false
	}
	if len(r.groupTypes) > 0 && (!ev.Present.Has(callback.FieldGroupType) || !slices.Contains(r.groupTypes, callback.CanonicalGroupType(ev.GroupType))) {
		return false
	}
	if len(r.fromAccts) > 0 && (!ev.Present.Has(callback.FieldFromAccount) || !slices.Contains(r.fromAccts, ev.FromAccount)) {
		return false
	}
	return true
}

// GroupKey returns the values of the rule's group_by fields for ev, in a
// form that is unambiguous and readable: GroupId="@TGS#2J4SZEAEL".
// Events with equal keys share a throttle window.
func (r *Rule) GroupKey(ev *callback.Event) string {
	if len(r.GroupBy) == 0 {
		return ""
	}
	var b strings.Builder
	for i, f := range r.GroupBy {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f)
		b.WriteByte('=')
		v, _ := ev.Field(f)
		b.WriteString(strconv.Quote(v))
	}
	return b.String()
}

// Engine holds a compiled rule set. It is immutable and safe for concurrent
// use; a reload builds a new Engine.
type Engine struct {
	rules     []*Rule
	byCommand map[string][]*Rule
	anyCmd    []*Rule
}

// Rules returns the rules in file order.
func (e *Engine) Rules() []*Rule { return e.rules }

// Match appends to dst the rules ev matches, in file order, and returns it.
func (e *Engine) Match(ev *callback.Event, dst []*Rule) []*Rule {
	cands := e.byCommand[ev.Command]
	if len(e.anyCmd) == 0 {
		for _, r := range cands {
			if r.Matches(ev) {
				dst = append(dst, r)
			}
		}
		return dst
	}
	// Merge the two candidate lists by file order.
	i, j := 0, 0
	for i < len(cands) || j < len(e.anyCmd) {
		var r *Rule
		if j >= len(e.anyCmd) || (i < len(cands) && cands[i].order < e.anyCmd[j].order) {
			r, i = cands[i], i+1
		} else {
			r, j = e.anyCmd[j], j+1
		}
		if r.Matches(ev) {
			dst = append(dst, r)
		}
	}
	return dst
}

// Options are what Compile checks rules against.
type Options struct {
	// Receivers is the set of receiver names rules may use.
	Receivers map[string]bool
}

// Compile validates specs and builds an Engine. It reports every problem it
// finds, each as file:line.
func Compile(files []*File, opts Options) (*Engine, error) {
	e := &Engine{byCommand: make(map[string][]*Rule)}
	var errs yamlfile.Errors
	defined := map[string]*Spec{}
	for _, f := range files {
		for i := range f.Rules {
			s := &f.Rules[i]
			r, rerrs := compileRule(f.doc, s, opts)
			errs = append(errs, rerrs...)
			if s.Name != "" {
				if prev, ok := defined[s.Name]; ok {
					errs = append(errs, f.doc.Errorf(yamlfile.At(s.node, "name"), "rule %q is already defined at %s:%d", s.Name, prev.File, prev.Line))
				}
				defined[s.Name] = s
			}
			if r == nil {
				continue
			}
			r.order = len(e.rules)
			e.rules = append(e.rules, r)
			if len(r.commands) == 0 {
				e.anyCmd = append(e.anyCmd, r)
			}
			for _, c := range r.commands {
				e.byCommand[c] = append(e.byCommand[c], r)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return e, nil
}

var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func validName(s string) bool { return ruleNameRE.MatchString(s) }

// lookup returns the key and value nodes of key in the rule's mapping.
func (s *Spec) lookup(key string) (k, v *yaml.Node) { return yamlfile.Lookup(s.node, key) }

func compileRule(doc *yamlfile.Doc, s *Spec, opts Options) (*Rule, yamlfile.Errors) {
	var errs yamlfile.Errors
	bad := func(key, format string, args ...any) {
		errs = append(errs, doc.Errorf(yamlfile.At(s.node, key), format, args...))
	}
	if s.Name == "" {
		bad("name", "rule: name is required")
	} else if !validName(s.Name) {
		bad("name", "rule %q: name must be 1-128 letters, digits, '.', '_' or '-'", s.Name)
	}
	label := "rule " + strconv.Quote(s.Name)
	if s.Severity != "" && !callback.ValidSeverity(s.Severity) {
		bad("severity", "%s: severity must be critical, warning or info, got %q", label, s.Severity)
	}
	if len(s.Receivers) == 0 {
		bad("receivers", "%s: receivers: at least one receiver is required", label)
	}
	_, recvNode := s.lookup("receivers")
	for i, name := range s.Receivers {
		if !opts.Receivers[name] {
			n := recvNode
			if recvNode != nil && i < len(recvNode.Content) {
				n = recvNode.Content[i]
			}
			errs = append(errs, doc.Errorf(n, "%s: unknown receiver %q", label, name))
		}
	}
	r := &Rule{
		Name:      s.Name,
		File:      s.File,
		Line:      s.Line,
		Severity:  s.Severity,
		Receivers: slices.Clone([]string(s.Receivers)),
		Throttle:  DefaultThrottle,
	}
	if _, tn := s.lookup("throttle"); tn != nil {
		r.Throttle = s.Throttle.D()
	}
	_, gbNode := s.lookup("group_by")
	for i, f := range s.GroupBy {
		w, ok := fieldName(f)
		if !ok {
			n := gbNode
			if gbNode != nil && i < len(gbNode.Content) {
				n = gbNode.Content[i]
			}
			errs = append(errs, doc.Errorf(n, "%s: group_by: unknown field %q", label, f))
			continue
		}
		r.GroupBy = append(r.GroupBy, w)
	}
	errs = append(errs, compileDelivery(doc, s, opts, r)...)
	m := s.Match
	r.commands = slices.Clone([]string(m.CallbackCommand))
	r.errorCodes = slices.Clone([]int64(m.ErrorCode))
	r.fromAccts = slices.Clone([]string(m.FromAccount))
	_, matchNode := s.lookup("match")
	for _, t := range m.GroupType {
		if !callback.KnownGroupType(t) {
			errs = append(errs, doc.Errorf(yamlfile.At(matchNode, "group_type"), "%s: group_type: unknown group type %q (want Public, Private/Work, ChatRoom/Meeting, AVChatRoom, Community or BChatRoom)", label, t))
		}
		r.groupTypes = append(r.groupTypes, callback.CanonicalGroupType(t))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}
