// Package yamlfile decodes YAML configuration files strictly: unknown keys
// are errors, every error names file:line, and ${VAR} references in scalar
// values expand from the environment without ever echoing what they expand
// to.
package yamlfile

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a problem at a position in a file.
type Error struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is a list of problems, reported together.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders es by file, then line, keeping the order of errors on one line.
func (es Errors) Sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
}

// Err returns es as an error, or nil when es is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// AsErrors flattens err into position errors; an error without a position
// becomes one Error for file.
func AsErrors(file string, err error) Errors {
	if err == nil {
		return nil
	}
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return Errors{e}
	}
	return Errors{{File: file, Msg: err.Error()}}
}

// Doc is a parsed YAML document.
type Doc struct {
	File string
	Root *yaml.Node // the top-level mapping, or nil for an empty document

	// expanded marks scalars whose value came from the environment: their
	// text may be a secret and never appears in an error.
	expanded map[*yaml.Node]bool
	missing  map[*yaml.Node][]string
	// typeErrs are the type errors Decode reported, by line, so that a
	// later check of the same value adds to that one message instead of
	// writing a second (Amend); whole marks mappings that could not be
	// decoded at all (a duplicate key).
	typeErrs map[*yaml.Node]*Error
	whole    map[*yaml.Node]bool
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse parses one YAML document.
func Parse(file string, data []byte) (*Doc, error) {
	data, refs := protectEnvRefs(data)
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, syntaxError(file, data, err)
	}
	restoreNodes(&n, refs)
	d := &Doc{File: file}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		d.Root = n.Content[0]
	}
	if d.Root != nil && d.Root.Kind != yaml.MappingNode {
		return nil, Errors{d.Errorf(d.Root, "the top level must be a mapping of keys")}
	}
	return d, nil
}

func syntaxError(file string, data []byte, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	e := &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	if indentErrors[e.Msg] {
		// yaml.v3 names the line where the enclosing block began, which
		// may be far above the line whose indentation is wrong.
		if line, why := badIndent(data, e.Line); line > 0 {
			e.Line, e.Msg = line, why+" (yaml: "+e.Msg+")"
		}
	}
	return Errors{e}
}

// Errorf returns an error positioned at n.
func (d *Doc) Errorf(n *yaml.Node, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: d.File, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Show quotes v, the value of n, for an error message; a value that came
// from the environment may be a secret and is described, not shown.
func (d *Doc) Show(n *yaml.Node, v string) string {
	if n != nil && d.expanded[n] {
		return "the value from the environment"
	}
	return strconv.Quote(v)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// ExpandEnv replaces ${VAR} and ${VAR:-default} in every scalar value (never
// in keys) with the variable's value; "$${" escapes a literal "${". An unset
// or empty variable without a default expands to "" and is remembered, so
// that validation can say why a required value is empty (MissingEnv).
func (d *Doc) ExpandEnv(lookup func(string) (string, bool)) {
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1])
			}
		case yaml.SequenceNode, yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "${") {
				return
			}
			val, missing := expand(n.Value, lookup)
			if len(missing) > 0 {
				if d.missing == nil {
					d.missing = make(map[*yaml.Node][]string)
				}
				d.missing[n] = missing
			}
			if val != n.Value {
				if d.expanded == nil {
					d.expanded = make(map[*yaml.Node]bool)
				}
				d.expanded[n] = true
				n.Value = val
				// The target type decides how to read the value: a number
				// for sdkappid, text for a password. Only YAML's null
				// spellings are pinned as text, so that a secret "null"
				// stays "null".
				n.Tag = ""
				if isNull(val) {
					n.Tag = "!!str"
				}
				n.Style = 0
			}
		}
	}
	if d.Root != nil {
		walk(d.Root)
	}
}

func isNull(s string) bool {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// MissingEnv lists the unset environment variables n referred to.
func (d *Doc) MissingEnv(n *yaml.Node) []string { return d.missing[n] }

// EmptyError reports that the required value n (under key) is empty, naming
// the unset environment variables it came from.
func (d *Doc) EmptyError(n *yaml.Node, key string) *Error {
	if vars := d.missing[n]; len(vars) > 0 {
		return d.Errorf(n, "%s is empty: environment variable %s is not set", key, strings.Join(vars, ", "))
	}
	return d.Errorf(n, "%s must not be empty", key)
}

// Lookup returns the key and value nodes of key in the mapping n.
func Lookup(n *yaml.Node, key string) (k, v *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// At returns the node to blame for key in the mapping n: its value when
// present, else the mapping itself.
func At(n *yaml.Node, key string) *yaml.Node {
	if _, v := Lookup(n, key); v != nil {
		return v
	}
	return n
}

func expand(s string, lookup func(string) (string, bool)) (string, []string) {
	const esc = "\x00dollar\x00"
	s = strings.ReplaceAll(s, "$${", esc)
	var missing []string
	s = envRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if v, ok := lookup(m[1]); ok && v != "" {
			return v
		}
		if m[2] != "" {
			return m[2][2:]
		}
		missing = append(missing, m[1])
		return ""
	})
	return strings.ReplaceAll(s, esc, "${"), missing
}

// Decode decodes n into out (a pointer), reporting unknown keys and type
// errors with their positions. Values that came from the environment are
// never quoted in the errors.
func (d *Doc) Decode(n *yaml.Node, out any) Errors {
	if n == nil {
		return nil
	}
	var errs Errors
	d.checkKeys(n, reflect.TypeOf(out), &errs)
	if err := n.Decode(out); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				e := d.typeError(msg)
				if strings.HasPrefix(e.Msg, "mapping key ") {
					d.markWhole(n) // yaml.v3 stops decoding the mapping there
				}
				errs = append(errs, e)
			}
		} else {
			errs = append(errs, d.Errorf(n, "%s", strings.TrimPrefix(err.Error(), "yaml: ")))
		}
	}
	return errs
}

// typeError turns one of yaml.v3's "line N: cannot unmarshal !!str `five`
// into int" messages into one positioned message that names the key and
// what it wants: `threshold.count: want an integer, got "five"`. A value
// from the environment is described, never quoted.
func (d *Doc) typeError(msg string) *Error {
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	e := &Error{File: d.File, Line: line, Msg: msg}
	m := cannotUnmarshal.FindStringSubmatch(msg)
	var tag, want string
	if m != nil {
		tag, want = m[1], m[2]
	} else if q := firstQuoted.FindString(msg); q != "" {
		want, _ = strconv.Unquote(q) // an Unmarshaler's error names the value
	}
	key, val := d.valueAt(line, tag, want)
	if m != nil {
		got := describeTag(m[1], m[2])
		if val != nil {
			got = d.describe(val)
		}
		e.Msg = "want " + describeType(m[3]) + ", got " + got
		if key != "" {
			e.Msg = key + ": " + e.Msg
		}
	} else {
		// An Unmarshaler's error (a bad duration): name the key when the
		// message is about the value found.
		if d.onExpandedLine(line) {
			e.Msg = quoted.ReplaceAllString(e.Msg, "value")
		}
		if val != nil && val.Kind == yaml.ScalarNode && want != "" && val.Value == want && key != "" {
			if d.expanded[val] {
				e.Msg = strings.ReplaceAll(e.Msg, strconv.Quote(want), "the value from the environment")
			}
			e.Msg = key + ": " + e.Msg
		}
	}
	if val != nil {
		if d.typeErrs == nil {
			d.typeErrs = make(map[*yaml.Node]*Error)
		}
		if _, dup := d.typeErrs[val]; !dup {
			d.typeErrs[val] = e
		}
	}
	return e
}

var (
	quoted          = regexp.MustCompile("`[^`]*`")
	firstQuoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	cannotUnmarshal = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
)

func (d *Doc) onExpandedLine(line int) bool {
	for n := range d.expanded {
		if n.Line == line {
			return true
		}
	}
	return false
}

// describe shows a value for an error message.
func (d *Doc) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return d.Show(n, clipValue(n.Value))
}

func describeTag(tag, val string) string {
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!null":
		return "nothing"
	}
	return strconv.Quote(clipValue(val))
}

// describeType names a Go type as a config author knows it.
func describeType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]") || strings.HasSuffix(t, "List"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.Contains(t, "."):
		return "a mapping" // a struct
	}
	return t
}

func clipValue(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:63]) + "…"
	}
	return s
}

// valueAt finds the value that starts on line and returns the path of
// keys that leads to it from the nearest enclosing list item
// ("threshold.count"), for an error message. Where a line holds several
// values ({count: five, within: 1m}), the one of the kind yaml.v3 named
// (tag) wins, then a scalar whose text is want, then the innermost.
func (d *Doc) valueAt(line int, tag, want string) (string, *yaml.Node) {
	type cand struct {
		path  []string
		n     *yaml.Node
		depth int
	}
	var cands []cand
	var walk func(n *yaml.Node, keys []string, depth int)
	walk = func(n *yaml.Node, keys []string, depth int) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				ks := append(slices.Clone(keys), k.Value)
				if v.Line == line || k.Line == line {
					cands = append(cands, cand{ks, v, depth})
				}
				walk(v, ks, depth+1)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if c.Line == line && c.Kind == yaml.ScalarNode {
					cands = append(cands, cand{keys, c, depth})
				}
				walk(c, nil, depth+1)
			}
		}
	}
	if d.Root != nil {
		walk(d.Root, nil, 0)
	}
	if len(cands) == 0 {
		return "", nil
	}
	kind := yaml.ScalarNode
	switch tag {
	case "!!map":
		kind = yaml.MappingNode
	case "!!seq":
		kind = yaml.SequenceNode
	}
	score := func(c cand) int {
		s := 0
		if c.n.Kind == kind {
			s += 2
		}
		if c.n.Kind == yaml.ScalarNode && c.n.Value == want {
			s++
		}
		return s
	}
	best, tie := cands[0], false
	for _, c := range cands[1:] {
		sc, sb := score(c), score(best)
		if sc > sb || sc == sb && c.depth > best.depth {
			best, tie = c, false
		} else if sc == sb && c.depth == best.depth {
			tie = true
		}
	}
	if tie {
		return "", nil // two values could be meant: blame neither
	}
	return strings.Join(best.path, "."), best.n
}

// Amend reports a problem with the value n: when Decode already reported
// a type error for n, the problem is added to that one message (so
// that "count: five" reads `want an integer, got "five"; count must be
// between 1 and 1000`) and Amend returns nil; otherwise it returns the
// error, as Errorf does.
func (d *Doc) Amend(n *yaml.Node, format string, args ...any) *Error {
	if n != nil {
		if te := d.typeErrs[n]; te != nil {
			if msg := fmt.Sprintf(format, args...); !strings.Contains(te.Msg, msg) {
				te.Msg += "; " + msg
			}
			return nil
		}
	}
	return d.Errorf(n, format, args...)
}

// Failed reports whether Decode could not read the value n: a type error,
// or a mapping it stopped decoding. Checks of n's value would only repeat
// that error.
func (d *Doc) Failed(n *yaml.Node) bool {
	_, bad := d.typeErrs[n]
	return n != nil && (bad || d.whole[n])
}

func (d *Doc) markWhole(n *yaml.Node) {
	if d.whole == nil {
		d.whole = make(map[*yaml.Node]bool)
	}
	d.whole[n] = true
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// checkKeys walks n alongside the Go type t and reports mapping keys that no
// struct field takes.
func (d *Doc) checkKeys(n *yaml.Node, t reflect.Type, errs *Errors) {
	for t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t == reflect.TypeFor[yaml.Node]() {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // Decode reports the type error
		}
		fields := structFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, d.Errorf(k, "unknown key %q%s", k.Value, suggest(k.Value, fields)))
				continue
			}
			d.checkKeys(v, ft, errs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range n.Content {
			d.checkKeys(c, t.Elem(), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.checkKeys(n.Content[i+1], t.Elem(), errs)
		}
	}
}

// structFields maps YAML key names to field types, following ",inline".
func structFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if !f.IsExported() && !(f.Anonymous && strings.Contains(tag, "inline")) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range structFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// suggest proposes the closest known key for a likely typo.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for k := range fields {
		if dd := EditDistance(key, k); dd < bestD || (dd == bestD && best != "" && k < best) {
			best, bestD = k, dd
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// EditDistance is the Levenshtein distance between a and b, in bytes.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Suggest proposes the closest of candidates for a likely typo of key, as
// ` (did you mean "x"?)`, or "" when none is close.
func Suggest(key string, candidates []string) string {
	fields := make(map[string]reflect.Type, len(candidates))
	for _, c := range candidates {
		fields[c] = nil
	}
	return suggest(key, fields)
}
