package rules

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
)

// cond is a compiled match condition.
type cond interface {
	match(ev *callback.Event) bool
}

// allOf holds when every condition holds; an empty allOf always holds.
type allOf []cond

func (c allOf) match(ev *callback.Event) bool {
	for _, x := range c {
		if !x.match(ev) {
			return false
		}
	}
	return true
}

// anyOf holds when at least one condition holds.
type anyOf []cond

func (c anyOf) match(ev *callback.Event) bool {
	for _, x := range c {
		if x.match(ev) {
			return true
		}
	}
	return false
}

type notOf struct{ c cond }

func (c notOf) match(ev *callback.Event) bool { return !c.c.match(ev) }

type predKind uint8

const (
	predEq predKind = iota
	predRange
	predGlob
	predRegex
)

// pred is one accepted value of a field: a literal, a numeric range, a glob
// or a regular expression.
type pred struct {
	kind   predKind
	s      string   // literal or glob
	alts   []string // group types: every spelling of the type, compared case-insensitively
	lo, hi int64    // numeric literal (lo == hi) or range
	re     *regexp.Regexp
}

func (p *pred) matchNum(v int64) bool {
	switch p.kind {
	case predEq, predRange:
		return v >= p.lo && v <= p.hi
	}
	var buf [24]byte
	return p.matchBytes(strconv.AppendInt(buf[:0], v, 10))
}

func (p *pred) matchStr(v string) bool {
	switch p.kind {
	case predEq:
		if p.alts != nil {
			for _, a := range p.alts {
				if strings.EqualFold(v, a) {
					return true
				}
			}
			return false
		}
		return v == p.s
	case predGlob:
		return globMatch(p.s, v)
	case predRegex:
		return p.re.MatchString(v)
	}
	return false
}

// matchBytes matches an unknown body field's value: a range matches values
// that read as integers within it, and falls back to the literal text.
func (p *pred) matchBytes(v []byte) bool {
	switch p.kind {
	case predEq:
		return string(v) == p.s
	case predRange:
		if n, ok := parseInt(v); ok && n >= p.lo && n <= p.hi {
			return true
		}
		return string(v) == p.s
	case predGlob:
		return globMatch(p.s, v)
	case predRegex:
		return p.re.Match(v)
	}
	return false
}

// parseInt reads a decimal integer without allocating.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// fieldCond holds when the field is present and one of preds accepts its
// value (for MsgType and Text: the value of any element).
type fieldCond struct {
	f     fieldRef
	preds []pred
}

func (c *fieldCond) match(ev *callback.Event) bool {
	switch {
	case c.f.spec == nil:
		v, ok := extra(ev, c.f.name)
		if !ok {
			return false
		}
		for i := range c.preds {
			if c.preds[i].matchBytes(v) {
				return true
			}
		}
		return false
	case c.f.spec.Kind == callback.KindInt:
		v, ok := c.f.spec.Int(ev)
		if !ok {
			return false
		}
		for i := range c.preds {
			if c.preds[i].matchNum(v) {
				return true
			}
		}
		return false
	case c.f.spec.Kind == callback.KindPerElem:
		for j := range ev.MsgBody {
			v, ok := c.f.spec.Elem(&ev.MsgBody[j])
			if !ok {
				continue
			}
			for i := range c.preds {
				if c.preds[i].matchStr(v) {
					return true
				}
			}
		}
		return false
	}
	v, ok := c.f.spec.Str(ev)
	if !ok {
		return false
	}
	for i := range c.preds {
		if c.preds[i].matchStr(v) {
			return true
		}
	}
	return false
}

// Composition keys of a match block; every other key names a field.
const (
	keyNot = "not"
	keyAny = "any"
	keyAll = "all"
)

// matchCompiler turns a rule's match block into conditions, collecting
// every error with its position.
type matchCompiler struct {
	doc   *yamlfile.Doc
	label string // `rule "name"`, for messages
	errs  yamlfile.Errors
	depth int
	nodes int // YAML nodes visited, aliases counted each time they are used
	over  bool
	uses  []fieldUse // every field named, checked once the rule's commands are known
}

// maxMatchNodes bounds the size of a match block, counting each use of a
// YAML alias: without it, nested aliases (a "billion laughs" document)
// would expand exponentially.
const maxMatchNodes = 10_000

// spend counts n nodes and reports whether the block is still within
// maxMatchNodes; it reports the overflow once.
func (mc *matchCompiler) spend(at *yaml.Node, n int) bool {
	mc.nodes += n
	if mc.nodes <= maxMatchNodes {
		return true
	}
	if !mc.over {
		mc.over = true
		mc.errorf(at, "match: more than %d conditions and values (counting each use of an alias)", maxMatchNodes)
	}
	return false
}

// maxMatchDepth bounds not/any/all nesting; deeper blocks are a mistake
// (or hostile input) and would only slow matching down.
const maxMatchDepth = 16

func (mc *matchCompiler) errorf(n *yaml.Node, format string, args ...any) {
	mc.errs = append(mc.errs, mc.doc.Errorf(n, "%s: %s", mc.label, fmt.Sprintf(format, args...)))
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// block compiles a mapping of conditions, all of which must hold.
func (mc *matchCompiler) block(where string, n *yaml.Node) allOf {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil && n.Tag == "!!null" && where == "match" {
			return allOf{}
		}
		mc.errorf(n, "%s: want a mapping of conditions", where)
		return nil
	}
	if !mc.spend(n, 1+len(n.Content)/2) {
		return nil
	}
	mc.depth++
	defer func() { mc.depth-- }()
	if mc.depth > maxMatchDepth {
		mc.errorf(n, "%s: nested deeper than %d levels", where, maxMatchDepth)
		return nil
	}
	var out allOf
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case keyNot:
			if c := mc.block(keyNot, v); c != nil {
				out = append(out, notOf{c: unwrap(c)})
			}
		case keyAny, keyAll:
			var list []cond
			v := resolve(v)
			if v == nil || v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
				mc.errorf(v, "%s: want a list of condition mappings", k.Value)
				continue
			}
			for _, e := range v.Content {
				if c := mc.block(k.Value, e); c != nil {
					list = append(list, unwrap(c))
				}
			}
			if k.Value == keyAny {
				out = append(out, anyOf(list))
			} else {
				out = append(out, allOf(list))
			}
		default:
			spec, wire, ok := fieldName(k.Value)
			if !ok {
				mc.errorf(k, "match: unknown field %q%s", k.Value, suggestField(k.Value))
				continue
			}
			mc.uses = append(mc.uses, fieldUse{key: k, name: k.Value, spec: spec, wire: wire, where: "match"})
			if spec != nil && spec.Kind == callback.KindElements {
				mc.errorf(k, "match: %s holds the message elements; match msg_type or text", k.Value)
				continue
			}
			if c := mc.field(k.Value, spec, wire, v); c != nil {
				out = append(out, c)
			}
		}
	}
	return out
}

func unwrap(c allOf) cond {
	if len(c) == 1 {
		return c[0]
	}
	return c
}

var fieldSuggestions = sync.OnceValue(func() []string {
	out := []string{keyNot, keyAny, keyAll}
	for _, s := range callback.FieldSpecs() {
		out = append(out, s.Name)
		out = append(out, s.Aliases...)
	}
	slices.Sort(out)
	return out
})

// field compiles the accepted values of one field.
func (mc *matchCompiler) field(key string, spec *callback.FieldSpec, wire string, v *yaml.Node) *fieldCond {
	c := &fieldCond{f: newFieldRef(spec, wire)}
	v = resolve(v)
	switch {
	case v == nil:
		return nil
	case !mc.spend(v, 1+len(v.Content)):
		return nil
	case v.Kind == yaml.ScalarNode:
		mc.scalar(c, key, v)
	case v.Kind == yaml.MappingNode:
		mc.patterns(c, key, v)
	case v.Kind == yaml.SequenceNode:
		if len(v.Content) == 0 {
			mc.errorf(v, "%s: empty list matches nothing", key)
			return nil
		}
		for _, e := range v.Content {
			e = resolve(e)
			switch {
			case e == nil:
			case e.Kind == yaml.ScalarNode:
				mc.scalar(c, key, e)
			case e.Kind == yaml.MappingNode:
				mc.patterns(c, key, e)
			default:
				mc.errorf(e, "%s: want a value, {glob: ...} or {regex: ...}", key)
			}
		}
	default:
		mc.errorf(v, "%s: want a value, a list, {glob: ...} or {regex: ...}", key)
	}
	if len(c.preds) == 0 {
		return nil
	}
	return c
}

var rangeRE = regexp.MustCompile(`^\s*(-?\d{1,18})\s*-\s*(-?\d{1,18})\s*$`)

// scalar compiles a literal value: a number or range for numeric fields,
// a group type (any spelling) for Type, a string otherwise.
func (mc *matchCompiler) scalar(c *fieldCond, key string, n *yaml.Node) {
	if n.Tag == "!!null" {
		mc.errorf(n, "%s: want a value, got null", key)
		return
	}
	s := n.Value
	switch {
	case c.f.numeric():
		if v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			c.preds = append(c.preds, pred{kind: predEq, lo: v, hi: v, s: s})
			return
		}
		m := rangeRE.FindStringSubmatch(s)
		if m == nil {
			mc.errorf(n, "%s: want an integer or a range such as 80001-80004, got %q", key, clip(s))
			return
		}
		lo, _ := strconv.ParseInt(m[1], 10, 64)
		hi, _ := strconv.ParseInt(m[2], 10, 64)
		if lo > hi {
			mc.errorf(n, "%s: range %q is empty (%d > %d)", key, s, lo, hi)
			return
		}
		c.preds = append(c.preds, pred{kind: predRange, lo: lo, hi: hi, s: s})
	case c.f.is(callback.NameType):
		if !callback.KnownGroupType(s) {
			mc.errorf(n, "%s: unknown group type %q (want Public, Private/Work, ChatRoom/Meeting, AVChatRoom, Community or BChatRoom)", key, clip(s))
			return
		}
		c.preds = append(c.preds, pred{kind: predEq, s: s, alts: groupTypeSpellings(s)})
	case c.f.spec == nil:
		p := pred{kind: predEq, s: s}
		if m := rangeRE.FindStringSubmatch(s); m != nil {
			lo, _ := strconv.ParseInt(m[1], 10, 64)
			hi, _ := strconv.ParseInt(m[2], 10, 64)
			if lo <= hi {
				p.kind, p.lo, p.hi = predRange, lo, hi
			}
		}
		c.preds = append(c.preds, p)
	default:
		mc.add(c, key, n, pred{kind: predEq, s: s})
	}
}

// add appends p to c's accepted values, first checking that a
// callback_command value can match a documented command.
func (mc *matchCompiler) add(c *fieldCond, key string, n *yaml.Node, p pred) {
	if c.f.is(callback.NameCallbackCommand) {
		if msg := checkCommand(&p); msg != "" {
			mc.errorf(n, "%s: %s", key, msg)
			return
		}
	}
	c.preds = append(c.preds, p)
}

// groupTypeSpellings lists the names of the group type s, so that Private
// matches Work and ChatRoom matches Meeting.
func groupTypeSpellings(s string) []string {
	switch canon := callback.CanonicalGroupType(s); canon {
	case callback.GroupPrivate:
		return []string{callback.GroupPrivate, "Work"}
	case callback.GroupChatRoom:
		return []string{callback.GroupChatRoom, "Meeting"}
	default:
		return []string{canon}
	}
}

// patterns compiles {glob: ...} and {regex: ...}; each takes one pattern or
// a list of them.
func (mc *matchCompiler) patterns(c *fieldCond, key string, n *yaml.Node) {
	if !mc.spend(n, len(n.Content)) {
		return
	}
	if len(n.Content) == 0 {
		mc.errorf(n, "%s: empty mapping: want {glob: ...} or {regex: ...}", key)
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		var vals []*yaml.Node
		switch {
		case v == nil:
		case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
			vals = []*yaml.Node{v}
		case v.Kind == yaml.SequenceNode && len(v.Content) > 0:
			vals = v.Content
		default:
			mc.errorf(v, "%s: %s: want a pattern or a list of patterns", key, clip(k.Value))
			continue
		}
		switch k.Value {
		case "glob":
			for _, p := range vals {
				p = resolve(p)
				if p == nil || p.Kind != yaml.ScalarNode {
					mc.errorf(v, "%s: glob: want a pattern", key)
					continue
				}
				if err := checkGlob(p.Value); err != nil {
					mc.errorf(p, "%s: bad glob %q: %v", key, clip(p.Value), err)
					continue
				}
				mc.add(c, key, p, pred{kind: predGlob, s: p.Value})
			}
		case "regex":
			for _, p := range vals {
				p = resolve(p)
				if p == nil || p.Kind != yaml.ScalarNode {
					mc.errorf(v, "%s: regex: want a pattern", key)
					continue
				}
				re, err := regexp.Compile(p.Value)
				if err != nil {
					msg := err.Error()
					var se *syntax.Error
					if errors.As(err, &se) {
						msg = se.Code.String()
					}
					mc.errorf(p, "%s: bad regex %q: %s", key, clip(p.Value), msg)
					continue
				}
				if n := progSize(p.Value); n > MaxRegexProgram {
					mc.errorf(p, "%s: regex %q is too costly: it compiles to %d instructions, more than %d; matching time grows with both its size and the text's, so narrow counted repeats such as {1000}", key, clip(p.Value), n, MaxRegexProgram)
					continue
				}
				mc.add(c, key, p, pred{kind: predRegex, s: p.Value, re: re})
			}
		default:
			mc.errorf(k, "%s: unknown matcher %q (want glob or regex)%s", key, clip(k.Value), yamlfile.Suggest(k.Value, []string{"glob", "regex"}))
		}
	}
}

// MaxRegexProgram bounds the compiled size of a rule's regex, in
// regexp/syntax instructions. Go's regexps run in time proportional to the
// program's size times the text's, so a large program on a 16 KB message
// can stall paging: (\pL|\pN|\pS|\pP){1000}z compiles to about 3,000
// instructions, while the regexes rules use run to tens (\w{1,64}@\w{1,64}
// is about 260).
const MaxRegexProgram = 500

// progSize is the number of instructions of pat's compiled program, as
// package regexp builds it; 0 when pat does not parse.
func progSize(pat string) int {
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return 0
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0
	}
	return len(prog.Inst)
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	if len(s) > 64 {
		r := []rune(s)
		if len(r) > 64 {
			return string(r[:63]) + "…"
		}
	}
	return s
}

// indexKeys reads, from the top level of a compiled match block, the
// commands and error codes every matching event must have. Rules without
// such a condition are candidates for every command or code.
func indexKeys(c allOf) (commands []string, codes []int64, ranges []codeRange) {
	for _, x := range c {
		fc, ok := x.(*fieldCond)
		if !ok {
			continue
		}
		switch {
		case fc.f.is(callback.NameCallbackCommand):
			var cmds []string
			for _, p := range fc.preds {
				if p.kind != predEq {
					cmds = nil
					break
				}
				cmds = append(cmds, p.s)
			}
			if cmds != nil {
				slices.Sort(cmds)
				commands = slices.Compact(cmds)
			}
		case fc.f.is(callback.NameErrorCode):
			var cs []int64
			var rs []codeRange
			exact := true
			for _, p := range fc.preds {
				switch p.kind {
				case predEq:
					cs = append(cs, p.lo)
				case predRange:
					rs = append(rs, codeRange{p.lo, p.hi})
				default:
					exact = false
				}
			}
			if exact {
				slices.Sort(cs)
				codes, ranges = slices.Compact(cs), rs
			}
		}
	}
	return commands, codes, ranges
}

// suggestField proposes a known field for an unknown name: the one it is a
// case or underscore typo of, else the nearest by edit distance.
func suggestField(name string) string {
	if m := nearMiss(name); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return yamlfile.Suggest(name, fieldSuggestions())
}
