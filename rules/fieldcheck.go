package rules

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
)

// A field name in a rule that is not a known name as written is either a
// typo, which silently matches nothing (or, in group_by, puts every event
// under one key), or a body field imalert does not type. These checks tell
// the two apart using the field table and the fields that IM's documented
// sample bodies carry.

// fieldUse is one field name as written in a rule, for checking once the
// rule's commands are known.
type fieldUse struct {
	key  *yaml.Node
	name string // as written
	spec *callback.FieldSpec
	wire string
	// where is "match" or "group_by", for messages.
	where string
}

// fold reduces a field name to what a typo in case or underscores leaves
// of it: ErrorCOde, Errorcode and error_code all fold to errorcode.
func fold(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }

// foldIndex maps folded names to the names they fold from: every wire name
// and alias of the field table and every documented body field.
var foldIndex = sync.OnceValue(func() map[string][]string {
	m := map[string][]string{}
	add := func(name string) {
		k := fold(name)
		if !slices.Contains(m[k], name) {
			m[k] = append(m[k], name)
		}
	}
	for _, s := range callback.FieldSpecs() {
		add(s.Name)
		for _, a := range s.Aliases {
			add(a)
		}
	}
	for _, f := range callback.DocumentedBodyFields() {
		add(f)
	}
	return m
})

// knownNames lists every name a rule may write for a field.
var knownNames = sync.OnceValue(func() []string {
	var out []string
	for _, names := range foldIndex() {
		out = append(out, names...)
	}
	slices.Sort(out)
	return out
})

// nearMiss returns the known name that name is a case or underscore typo
// of: the spelling in the same style (snake_case for lower case, the wire
// name otherwise), or "" when there is none.
func nearMiss(name string) string {
	cands := slices.DeleteFunc(slices.Clone(foldIndex()[fold(name)]), func(c string) bool { return c == name })
	if len(cands) == 0 {
		return ""
	}
	lower := name == strings.ToLower(name)
	for _, c := range cands {
		if (c == strings.ToLower(c)) == lower {
			return c
		}
	}
	return cands[0]
}

// closest returns the known name nearest to name, however far.
func closest(name string) string {
	best, bestD := "", -1
	f := fold(name)
	for _, k := range knownNames() {
		if d := yamlfile.EditDistance(f, fold(k)); bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// carriedByAll reports whether every command in cmds documents the body
// field wire; false when any of them has no sample to tell.
func carriedByAll(wire string, cmds []string) bool {
	if len(cmds) == 0 {
		return false
	}
	carriers := callback.CommandsCarrying(wire)
	for _, c := range cmds {
		if !slices.Contains(carriers, c) {
			return false
		}
	}
	return true
}

// checkFieldUses reports, for one rule whose top-level conditions restrict
// it to cmds (empty: any command), the field names that are typos
// (errors) and the body fields no documented command carries (warnings).
func checkFieldUses(doc *yamlfile.Doc, label string, uses []fieldUse, cmds []string) (errs, warns yamlfile.Errors) {
	for _, u := range uses {
		errf := func(format string, args ...any) {
			errs = append(errs, doc.Errorf(u.key, "%s: %s: %s", label, u.where, fmt.Sprintf(format, args...)))
		}
		warnf := func(format string, args ...any) {
			warns = append(warns, doc.Errorf(u.key, "%s: %s: %s", label, u.where, fmt.Sprintf(format, args...)))
		}
		carriers := callback.CommandsCarrying(u.wire)
		if u.spec == nil {
			// An unknown body field: a typo of a known name, or a field
			// the table does not type.
			if m := nearMiss(u.name); m != "" && !carriedByAll(u.name, cmds) {
				why := ""
				if len(carriers) > 0 {
					why = fmt.Sprintf("; %s is carried only by %s, so name that callback_command to mean it", u.name, listCommands(carriers))
				}
				errf("unknown field %q (did you mean %q?)%s", u.name, m, why)
				continue
			}
			if len(carriers) == 0 {
				warnf("no documented callback command carries %q (the closest known field is %q); it matches only if IM sends it", u.name, closest(u.name))
				continue
			}
		}
		if u.spec != nil && u.spec.Where == callback.InQuery {
			continue // every command carries the envelope
		}
		if u.spec != nil && u.spec.Where == callback.InElement {
			carriers = callback.CommandsCarrying(callback.NameMsgBody)
		}
		if len(cmds) == 0 || !allHaveSamples(cmds) {
			continue
		}
		if !slices.ContainsFunc(cmds, func(c string) bool { return slices.Contains(carriers, c) }) {
			hint := ""
			if m := nearMiss(u.wire); m != "" && carriedByAll(m, cmds) {
				hint = fmt.Sprintf(" (did you mean %q?)", m)
			}
			warnf("%q is not in the documented body of %s%s", u.name, listCommands(cmds), hint)
		}
	}
	return errs, warns
}

func allHaveSamples(cmds []string) bool {
	for _, c := range cmds {
		if !callback.HasSample(c) {
			return false
		}
	}
	return true
}

// listCommands names up to three commands.
func listCommands(cmds []string) string {
	if len(cmds) > 3 {
		return strings.Join(cmds[:3], ", ") + fmt.Sprintf(" and %d more", len(cmds)-3)
	}
	return strings.Join(cmds, ", ")
}

// checkCommand checks a callback_command value: a literal must be a
// documented command, a pattern must match at least one.
func checkCommand(p *pred) string {
	cmds := callback.DocumentedCommands()
	switch p.kind {
	case predEq:
		if callback.IsDocumentedCommand(p.s) {
			return ""
		}
		if s := yamlfile.Suggest(p.s, cmds); s != "" {
			return fmt.Sprintf("%q is not a documented callback command%s", clip(p.s), s)
		}
		if s := suggestFolded(p.s, cmds); s != "" {
			return fmt.Sprintf("%q is not a documented callback command (did you mean %q?)", clip(p.s), s)
		}
		return fmt.Sprintf("%q is not a documented callback command", clip(p.s))
	case predGlob, predRegex:
		for _, c := range cmds {
			if p.matchStr(c) {
				return ""
			}
		}
		kind := "glob"
		if p.kind == predRegex {
			kind = "regex"
		}
		return fmt.Sprintf("%s %q matches no documented callback command", kind, clip(p.s))
	}
	return ""
}

// suggestFolded finds a command equal to s but for case.
func suggestFolded(s string, cands []string) string {
	for _, c := range cands {
		if strings.EqualFold(c, s) {
			return c
		}
	}
	return ""
}
