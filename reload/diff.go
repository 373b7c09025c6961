package reload

import (
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/imalert/imalert/config"
)

// Changes returns the settings that differ between the configs a and b,
// each named by its path in the config file: listen, server.read_timeout,
// apps[0].tokens, receivers.ops-slack.webhook_url. It walks the
// config's types with reflect, so a setting added to the config later is
// compared, and named, without a change here.
//
// A struct field is named by its yaml tag, or else by its Go name in
// snake_case. A list of structs with a Name is compared item by item by
// name, any other list of structs by position. A field tagged yaml:"-" is
// derived from others (a parsed CIDR list, a loaded CA file): its change is
// named by the struct that holds it, unless a setting of that struct is
// named already. Values with an Equal method are compared with it.
func Changes(a, b *config.Config) []string {
	var out []string
	walk(&out, "", reflect.ValueOf(*a), reflect.ValueOf(*b))
	out = slices.DeleteFunc(out, ignored)
	slices.Sort(out)
	out = slices.Compact(out)
	// A derived field's change is named by its parent: drop the parent
	// when a setting under it is named.
	return slices.DeleteFunc(out, func(p string) bool {
		return slices.ContainsFunc(out, func(q string) bool { return q != p && under(q, p) })
	})
}

// notSettings are what the config records about itself rather than
// settings: where it was read from, its warnings, where a receiver is
// written.
var notSettings = []string{"file", "warnings", "receivers.*.line"}

func ignored(p string) bool {
	for _, pattern := range notSettings {
		if ok, _ := path.Match(pattern, p); ok {
			return true
		}
	}
	return false
}

// under reports whether path q is inside path p.
func under(q, p string) bool {
	return strings.HasPrefix(q, p) && len(q) > len(p) && (q[len(p)] == '.' || q[len(p)] == '[')
}

var configPkg = reflect.TypeFor[config.Config]().PkgPath()

// walk appends to out the path of every difference between a and b, which
// have the same type, at path p.
func walk(out *[]string, p string, a, b reflect.Value) {
	t := a.Type()
	switch {
	case hasEqual(t):
		if !a.MethodByName("Equal").Call([]reflect.Value{b})[0].Bool() {
			*out = append(*out, p)
		}
	case t.Kind() == reflect.Pointer && t.Elem().PkgPath() == configPkg && t.Elem().Kind() == reflect.Struct:
		switch {
		case a.IsNil() && b.IsNil():
		case a.IsNil() || b.IsNil():
			*out = append(*out, p)
		default:
			walk(out, p, a.Elem(), b.Elem())
		}
	case t.Kind() == reflect.Struct && t.PkgPath() == configPkg:
		walkStruct(out, p, a, b)
	case t.Kind() == reflect.Slice && structElem(t):
		walkList(out, p, a, b)
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, p)
		}
	}
}

func walkStruct(out *[]string, p string, a, b reflect.Value) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, inline := fieldName(f)
		fp := join(p, name)
		if inline {
			fp = p
		}
		if name == "-" {
			fp = p // derived: named by its parent
		}
		walk(out, fp, a.Field(i), b.Field(i))
	}
}

// walkList compares lists of structs: by Name when the items have one,
// else by position. An item only one side has is named as a whole.
func walkList(out *[]string, p string, a, b reflect.Value) {
	key := func(v reflect.Value, i int) string { return p + "[" + strconv.Itoa(i) + "]" }
	if f, ok := v0(a.Type().Elem()).FieldByName("Name"); ok && f.Type.Kind() == reflect.String {
		key = func(v reflect.Value, i int) string { return join(p, v.Index(i).FieldByName("Name").String()) }
	}
	index := func(v reflect.Value) map[string]int {
		m := make(map[string]int, v.Len())
		for i := range v.Len() {
			m[key(v, i)] = i
		}
		return m
	}
	ia, ib := index(a), index(b)
	for k, i := range ia {
		j, ok := ib[k]
		if !ok {
			*out = append(*out, k)
			continue
		}
		walk(out, k, a.Index(i), b.Index(j))
	}
	for k := range ib {
		if _, ok := ia[k]; !ok {
			*out = append(*out, k)
		}
	}
}

func v0(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Pointer {
		return t.Elem()
	}
	return t
}

func structElem(t reflect.Type) bool {
	e := v0(t.Elem())
	return e.Kind() == reflect.Struct && e.PkgPath() == configPkg
}

// hasEqual reports whether t has a method Equal(t) bool.
func hasEqual(t reflect.Type) bool {
	m, ok := t.MethodByName("Equal")
	return ok && m.Type.NumIn() == 2 && m.Type.In(1) == t && m.Type.NumOut() == 1 && m.Type.Out(0).Kind() == reflect.Bool
}

// fieldName is the name of f in the config file, and whether f is inlined
// into its parent: tagged inline, or an untagged pointer to a config
// struct, which is one variant of a union written inline (the slack: or
// webhook: settings of a receiver).
func fieldName(f reflect.StructField) (string, bool) {
	tag, tagged := f.Tag.Lookup("yaml")
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(opts, "inline") {
		return "", true
	}
	if !tagged && f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct && f.Type.Elem().PkgPath() == configPkg {
		return "", true
	}
	if name != "" {
		return name, false
	}
	return snake(f.Name), false
}

// snake writes a Go name in snake_case: CallbackPath is callback_path,
// SdkAppID is sdk_app_id.
func snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

func join(p, name string) string {
	if p == "" {
		return name
	}
	return p + "." + name
}
