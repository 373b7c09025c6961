package rules

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
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

// DefaultThrottleMax caps an exponential throttle that sets no max.
const DefaultThrottleMax = 24 * time.Hour

// MaxThresholdCount bounds threshold.count: the decision keeps one
// timestamp per counted event and key.
const MaxThresholdCount = 1000

// Rule is a compiled, immutable rule.
type Rule struct {
	Name      string
	File      string
	Line      int
	Severity  string // empty: take the error code's default severity
	Receivers []string
	GroupBy   []string // wire names
	// Digest, when set, replaces per-event pages with one summary per
	// interval.
	Digest time.Duration
	// Fallback receives the rule's notifications once a receiver has been
	// failing for FallbackAfter.
	Fallback      string
	FallbackAfter time.Duration

	// Throttle is the window during which repeats for one group key are
	// held back and counted; 0 pages every time.
	Throttle time.Duration
	// ThrottleMax, when set, makes the throttle exponential: each window
	// that held events back is followed by one twice as long, up to
	// ThrottleMax; a window that passes quietly resets it to Throttle.
	ThrottleMax time.Duration
	// Threshold, when Count > 0, holds pages back until Count matching
	// events of one group key fall within Within.
	Threshold Threshold
	// FirstSeen pages only the first time a group key is ever seen (or
	// since its state was evicted); such a rule has no throttle.
	FirstSeen bool
	// QuietSummary pages a summary when a throttle window that held events
	// back ends with no new event (quiet_summary, default true).
	QuietSummary bool

	// Title and Body are the rule's templates; nil uses the standard page.
	Title, Body *Template

	// StateKey identifies the rule's decision state (throttle windows,
	// threshold counts, first-seen marks): its name and a hash of the
	// settings that state depends on. A reload that leaves those alone
	// keeps the state.
	StateKey string

	cond     allOf
	simple   map[string]any // the match block, when flat: see SimpleMatch
	order    int            // position in the rule set, for stable match order
	commands []string
	codes    []int64
	ranges   []codeRange
}

// Threshold is a compiled threshold.
type Threshold struct {
	Count  int
	Within time.Duration
}

// Matches reports whether ev satisfies every condition of the rule.
func (r *Rule) Matches(ev *callback.Event) bool { return r.cond.match(ev) }

// GroupKey returns the values of the rule's group_by fields for ev, in a
// form that is unambiguous and readable: GroupId="@TGS#2J4SZEAEL".
// Events with equal keys share a throttle window. Both spellings of a
// group type (Work and Private, Meeting and ChatRoom) give one key.
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
		if f == callback.NameType {
			v = callback.CanonicalGroupType(v)
		}
		b.WriteString(strconv.Quote(v))
	}
	return b.String()
}

// Engine holds a compiled rule set. It is immutable and safe for concurrent
// use; a reload builds a new Engine.
type Engine struct {
	rules      []*Rule
	byCommand  map[string]*bucket
	anyCommand *bucket
	catalogue  *callback.Catalogue
	warnings   yamlfile.Errors
}

// Warnings returns what check should point out without refusing the
// rules: body fields no documented callback command carries, which match
// only if IM sends them.
func (e *Engine) Warnings() yamlfile.Errors { return e.warnings }

// Rules returns the rules in file order.
func (e *Engine) Rules() []*Rule { return e.rules }

// Catalogue returns the error-code catalogue the rules were compiled with.
func (e *Engine) Catalogue() *callback.Catalogue { return e.catalogue }

// Match appends to dst the rules ev matches, in file order, and returns it.
// It does not allocate when dst has room for the matches.
func (e *Engine) Match(ev *callback.Event, dst []*Rule) []*Rule {
	return e.match(ev, dst, nil, nil)
}

// match is Match; with observe set, it times each candidate rule's
// conditions on clock now and reports them to observe.
func (e *Engine) match(ev *callback.Event, dst []*Rule, now func() time.Time, observe func(*Rule, time.Duration)) []*Rule {
	var lists [maxLists][]*Rule
	n := 0
	if b := e.byCommand[ev.Command]; b != nil {
		n = b.collect(ev, &lists, n)
	}
	if e.anyCommand != nil {
		n = e.anyCommand.collect(ev, &lists, n)
	}
	// Merge the candidate lists by rule order; a rule is in at most one.
	for {
		best := -1
		for i := range n {
			if len(lists[i]) > 0 && (best < 0 || lists[i][0].order < lists[best][0].order) {
				best = i
			}
		}
		if best < 0 {
			return dst
		}
		r := lists[best][0]
		lists[best] = lists[best][1:]
		var start time.Time
		if observe != nil {
			start = now()
		}
		ok := r.cond.match(ev)
		if observe != nil {
			observe(r, now().Sub(start))
		}
		if ok {
			dst = append(dst, r)
		}
	}
}

// Options are what Compile checks rules against.
type Options struct {
	// Receivers is the set of receiver names rules may use.
	Receivers map[string]bool
	// Catalogue answers the meaning and severity helpers of templates;
	// nil means the built-in catalogue.
	Catalogue *callback.Catalogue
}

// Compile validates specs and builds an Engine. It reports every problem it
// finds, each as file:line.
func Compile(files []*File, opts Options) (*Engine, error) {
	if opts.Catalogue == nil {
		opts.Catalogue = callback.NewCatalogue()
	}
	e := &Engine{byCommand: make(map[string]*bucket), catalogue: opts.Catalogue}
	var errs yamlfile.Errors
	defined := map[string]*Spec{}
	for _, f := range files {
		for i := range f.Rules {
			s := &f.Rules[i]
			r, rerrs, rwarns := compileRule(f.doc, s, opts)
			errs = append(errs, rerrs...)
			e.warnings = append(e.warnings, rwarns...)
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
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	e.warnings.Sort()
	e.index()
	return e, nil
}

// index files every rule under its commands (or under any command) and its
// error codes.
func (e *Engine) index() {
	ranged := map[*bucket][]*Rule{}
	for _, r := range e.rules {
		if len(r.commands) == 0 {
			if e.anyCommand == nil {
				e.anyCommand = newBucket()
			}
			rs := ranged[e.anyCommand]
			e.anyCommand.add(r, &rs)
			ranged[e.anyCommand] = rs
			continue
		}
		for _, c := range r.commands {
			b := e.byCommand[c]
			if b == nil {
				b = newBucket()
				e.byCommand[c] = b
			}
			rs := ranged[b]
			b.add(r, &rs)
			ranged[b] = rs
		}
	}
	for b, rs := range ranged {
		b.buildSegments(rs)
	}
}

var ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func validName(s string) bool { return ruleNameRE.MatchString(s) }

// lookup returns the key and value nodes of key in the rule's mapping.
func (s *Spec) lookup(key string) (k, v *yaml.Node) { return yamlfile.Lookup(s.node, key) }

func compileRule(doc *yamlfile.Doc, s *Spec, opts Options) (_ *Rule, errs, warns yamlfile.Errors) {
	if doc.Failed(s.node) {
		// Decoding stopped inside the rule (a duplicate key): its fields
		// are not known, and checking them would only repeat that error.
		return nil, nil, nil
	}
	rc := &ruleCompiler{doc: doc, s: s, label: "rule " + strconv.Quote(clip(s.Name))}
	r := &Rule{
		Name:      s.Name,
		File:      s.File,
		Line:      s.Line,
		Severity:  s.Severity,
		Receivers: slices.Clone([]string(s.Receivers)),
		Throttle:  DefaultThrottle,
		FirstSeen: s.FirstSeen,

		QuietSummary: s.QuietSummary == nil || *s.QuietSummary,
	}
	rc.header(opts)
	rc.throttle(r)
	rc.threshold(r)
	rc.errs = append(rc.errs, compileDelivery(doc, s, opts, r)...)
	rc.conditions(r)
	rc.templates(r, opts)
	if len(rc.errs) > 0 {
		return nil, rc.errs, rc.warns
	}
	r.StateKey = stateKey(r)
	return r, nil, rc.warns
}

// ruleCompiler collects the errors and warnings of one rule.
type ruleCompiler struct {
	doc   *yamlfile.Doc
	s     *Spec
	label string // `rule "name"`, for messages
	errs  yamlfile.Errors
	warns yamlfile.Errors
}

func (rc *ruleCompiler) errorf(n *yaml.Node, format string, args ...any) {
	rc.errs = append(rc.errs, rc.doc.Errorf(n, "%s: %s", rc.label, fmt.Sprintf(format, args...)))
}

// bad reports a problem with the value of key, unless decoding it already
// failed: that error says it.
func (rc *ruleCompiler) bad(key, format string, args ...any) {
	if n := yamlfile.At(rc.s.node, key); !rc.doc.Failed(n) {
		rc.errs = append(rc.errs, rc.doc.Errorf(n, format, args...))
	}
}

// header checks the name, severity and receivers.
func (rc *ruleCompiler) header(opts Options) {
	s := rc.s
	if s.Name == "" {
		rc.bad("name", "rule: name is required")
	} else if !validName(s.Name) {
		rc.bad("name", "rule %q: name must be 1-128 letters, digits, '.', '_' or '-'", clip(s.Name))
	}
	if s.Severity != "" && !callback.ValidSeverity(s.Severity) {
		rc.bad("severity", "%s: severity must be critical, warning or info, got %q", rc.label, clip(s.Severity))
	}
	if len(s.Receivers) == 0 {
		rc.bad("receivers", "%s: receivers: at least one receiver is required", rc.label)
	}
	_, recvNode := s.lookup("receivers")
	for i, name := range s.Receivers {
		if !opts.Receivers[name] {
			rc.errorf(item(recvNode, i), "unknown receiver %q", clip(name))
		}
	}
}

// throttle compiles the throttle. A first-seen rule pages once per key, so
// it has none.
func (rc *ruleCompiler) throttle(r *Rule) {
	s := rc.s
	_, tn := s.lookup("throttle")
	if s.FirstSeen {
		r.Throttle = 0
		if tn != nil {
			rc.errorf(tn, "throttle: a first_seen rule pages once per key; throttle does not apply")
		}
		return
	}
	if tn == nil {
		return
	}
	t := s.Throttle
	r.Throttle = t.Window.D()
	_, mn := yamlfile.Lookup(tn, "max")
	switch t.Backoff {
	case "", BackoffNone:
		if mn != nil {
			rc.errorf(mn, "throttle: max applies only with backoff: exponential")
		}
	case BackoffExponential:
		r.ThrottleMax = max(DefaultThrottleMax, r.Throttle)
		if mn != nil {
			r.ThrottleMax = t.Max.D()
			if r.ThrottleMax <= r.Throttle {
				rc.errorf(mn, "throttle: max must be longer than window")
			}
		}
		if r.Throttle <= 0 {
			rc.errorf(yamlfile.At(tn, "window"), "throttle: exponential backoff needs a window")
		}
	default:
		rc.errorf(yamlfile.At(tn, "backoff"), "throttle: backoff must be none or exponential, got %q", clip(t.Backoff))
	}
}

// threshold compiles the threshold.
func (rc *ruleCompiler) threshold(r *Rule) {
	_, tn := rc.s.lookup("threshold")
	th := rc.s.Threshold
	if tn == nil || th == nil {
		return
	}
	if cn := yamlfile.At(tn, "count"); rc.doc.Failed(cn) {
		// One message: the type error, with the range.
		rc.doc.Amend(cn, "count must be between 1 and %d", MaxThresholdCount)
	} else if th.Count < 1 || th.Count > MaxThresholdCount {
		rc.errorf(cn, "threshold: count must be between 1 and %d", MaxThresholdCount)
	}
	if _, wn := yamlfile.Lookup(tn, "within"); wn == nil {
		rc.errorf(tn, "threshold: within is required")
	} else if d, err := yamlfile.ParseDuration(wn.Value); err == nil && d <= 0 {
		// (A value that does not parse was reported when decoding.)
		rc.errorf(wn, "threshold: within must be a positive duration")
	}
	r.Threshold = Threshold{Count: th.Count, Within: th.Within.D()}
}

// conditions compiles the match block and group_by, then checks every
// field they name against the commands the rule is limited to.
func (rc *ruleCompiler) conditions(r *Rule) {
	mc := &matchCompiler{doc: rc.doc, label: rc.label}
	if _, mn := rc.s.lookup("match"); mn != nil {
		r.cond = mc.block("match", mn)
		r.simple = simpleMatch(mn)
	}
	rc.errs = append(rc.errs, mc.errs...)
	r.commands, r.codes, r.ranges = indexKeys(r.cond)
	uses := mc.uses
	_, gbNode := rc.s.lookup("group_by")
	for i, f := range rc.s.GroupBy {
		spec, w, ok := fieldName(f)
		switch {
		case !ok:
			rc.errorf(item(gbNode, i), "group_by: unknown field %q%s", clip(f), suggestField(f))
		case spec != nil && !spec.Single():
			rc.errorf(item(gbNode, i), "group_by: %s can have several values; it cannot group", w)
		default:
			uses = append(uses, fieldUse{key: item(gbNode, i), name: f, spec: spec, wire: w, where: "group_by"})
			r.GroupBy = append(r.GroupBy, w)
		}
	}
	errs, warns := checkFieldUses(rc.doc, rc.label, uses, r.commands)
	rc.errs = append(rc.errs, errs...)
	rc.warns = append(rc.warns, warns...)
}

// templates parses the title and body templates.
func (rc *ruleCompiler) templates(r *Rule, opts Options) {
	for _, t := range []struct {
		key   string
		src   string
		title bool
		dst   **Template
	}{{"title", rc.s.Title, true, &r.Title}, {"body", rc.s.Body, false, &r.Body}} {
		_, tn := rc.s.lookup(t.key)
		if tn == nil || t.src == "" {
			continue
		}
		tmpl, err := parseTemplate(t.key, t.src, t.title, opts.Catalogue)
		if err != nil {
			start := tn.Line
			if tn.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				start++
			}
			line, msg := templateError(err, start)
			rc.errs = append(rc.errs, &yamlfile.Error{File: rc.doc.File, Line: line, Msg: rc.label + ": " + t.key + ": " + msg})
			continue
		}
		*t.dst = tmpl
	}
}

// item returns the i-th element of a sequence node, or the node itself.
func item(n *yaml.Node, i int) *yaml.Node {
	if n != nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}

// stateKey is the rule's name and a hash of what its decision state means:
// grouping, threshold, first-seen and throttle. Changing conditions,
// receivers or templates keeps the state; changing these starts afresh.
func stateKey(r *Rule) string {
	h := fnv.New64a()
	for _, g := range r.GroupBy {
		h.Write([]byte(g))
		h.Write([]byte{0})
	}
	var b [8]byte
	for _, v := range []int64{int64(r.Threshold.Count), int64(r.Threshold.Within), int64(r.Throttle), int64(r.ThrottleMax)} {
		binary.BigEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	if r.FirstSeen {
		h.Write([]byte{1})
	}
	return r.Name + "#" + hex.EncodeToString(h.Sum(nil)[:6])
}
