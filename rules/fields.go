package rules

import (
	"unicode"

	"github.com/imalert/imalert/callback"
)

// fieldName resolves a field name as written in a rule to its description
// in callback's field table; spec is nil for an unknown body field, which
// is reached by its wire name. Any other name is taken as an unknown body
// field only if it looks like one (IM's body fields start with an
// upper-case letter), so a typo in an alias is reported, not silently
// matched against nothing. See checkFieldName for near misses.
func fieldName(s string) (spec *callback.FieldSpec, wire string, ok bool) {
	if spec, ok := callback.LookupField(s); ok {
		return spec, spec.Name, true
	}
	if s != "" && len(s) <= 128 && unicode.IsUpper([]rune(s)[0]) {
		return nil, s, true
	}
	return nil, "", false
}

// fieldRef is a compiled reference to one event field: a row of the field
// table, or (spec nil) an unknown body field by wire name.
type fieldRef struct {
	spec *callback.FieldSpec
	name string // wire name
}

func newFieldRef(spec *callback.FieldSpec, wire string) fieldRef {
	return fieldRef{spec: spec, name: wire}
}

// numeric reports whether the field holds an integer.
func (f fieldRef) numeric() bool { return f.spec != nil && f.spec.Kind == callback.KindInt }

// is reports whether the field is the typed field with wire name name.
func (f fieldRef) is(name string) bool { return f.spec != nil && f.spec.Name == name }

// extra returns an unknown body field: a JSON string's contents, or any
// other JSON value's text. A string without escapes is returned without
// decoding, so the common case does not allocate.
func extra(ev *callback.Event, name string) ([]byte, bool) {
	raw, ok := ev.Extra[name]
	if !ok {
		return nil, false
	}
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		for _, c := range inner {
			if c == '\\' {
				v, _ := ev.Field(name)
				return []byte(v), true
			}
		}
		return inner, true
	}
	return raw, true
}
