// Package rules loads rule files, validates them with file:line errors and
// compiles them into an immutable, indexed Engine that matches callback
// events.
package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/yamlfile"
)

// File is one parsed rule file.
type File struct {
	Name  string
	Rules []Spec
	doc   *yamlfile.Doc
}

// Spec is one rule as written, with its position.
type Spec struct {
	Name      string              `yaml:"name"`
	Match     yaml.Node           `yaml:"match"`
	GroupBy   yamlfile.StringList `yaml:"group_by"`
	Threshold *ThresholdSpec      `yaml:"threshold"`
	FirstSeen bool                `yaml:"first_seen"`
	Throttle  ThrottleSpec        `yaml:"throttle"`
	Severity  string              `yaml:"severity"`
	Receivers yamlfile.StringList `yaml:"receivers"`
	Title     string              `yaml:"title"`
	Body      string              `yaml:"body"`
	Digest    yamlfile.Duration   `yaml:"digest"`
	Fallback  *FallbackSpec       `yaml:"fallback"`
	// QuietSummary (default true) pages a summary when a throttle window
	// that held events back ends with no new event.
	QuietSummary *bool `yaml:"quiet_summary"`

	File string `yaml:"-"`
	Line int    `yaml:"-"`
	node *yaml.Node
}

// ThresholdSpec is a rule's threshold: page only once Count matching
// events with the same group key fall within Within.
type ThresholdSpec struct {
	Count  int               `yaml:"count"`
	Within yamlfile.Duration `yaml:"within"`
}

// ThrottleSpec is a rule's throttle: a window as a duration ("30m"), or a
// mapping {window, backoff, max}.
type ThrottleSpec struct {
	Window  yamlfile.Duration `yaml:"window"`
	Backoff string            `yaml:"backoff"` // none (the default) or exponential
	Max     yamlfile.Duration `yaml:"max"`     // cap of an exponential window
}

// Throttle backoff modes.
const (
	BackoffNone        = "none"
	BackoffExponential = "exponential"
)

// UnmarshalYAML implements yaml.Unmarshaler: a duration, or a mapping
// checked for unknown keys.
func (t *ThrottleSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = ThrottleSpec{}
		return n.Decode(&t.Window)
	}
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: throttle: want a duration such as 10m or a mapping {window, backoff, max}", n.Line)}}
	}
	var msgs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "window", "backoff", "max":
		default:
			msgs = append(msgs, fmt.Sprintf("line %d: unknown key %q in throttle%s", n.Content[i].Line, k, yamlfile.Suggest(k, []string{"window", "backoff", "max"})))
		}
	}
	type plain ThrottleSpec
	var p plain
	if err := n.Decode(&p); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs = append(msgs, te.Errors...)
		} else {
			msgs = append(msgs, err.Error())
		}
	}
	*t = ThrottleSpec(p)
	if len(msgs) > 0 {
		return &yaml.TypeError{Errors: msgs}
	}
	return nil
}

type fileWire struct {
	Rules []yaml.Node `yaml:"rules"`
}

// LoadFiles reads every file the glob patterns match, in sorted order. It
// returns the files it could parse together with every error.
// A pattern naming a file that does not exist is an error; a glob that
// matches nothing is not.
func LoadFiles(patterns []string) ([]*File, error) {
	var files []*File
	var errs yamlfile.Errors
	seen := map[string]bool{}
	for _, p := range patterns {
		matches, err := filepath.Glob(p)
		if err != nil {
			errs = append(errs, &yamlfile.Error{File: p, Msg: "bad glob pattern"})
			continue
		}
		if len(matches) == 0 && !hasMeta(p) {
			errs = append(errs, &yamlfile.Error{File: p, Msg: "rule file does not exist"})
			continue
		}
		slices.Sort(matches)
		for _, m := range matches {
			if seen[m] {
				continue
			}
			seen[m] = true
			data, err := os.ReadFile(m)
			if err != nil {
				errs = append(errs, &yamlfile.Error{File: m, Msg: fmt.Sprintf("read: %v", unwrapPath(err))})
				continue
			}
			f, err := ParseFile(m, data)
			errs = append(errs, yamlfile.AsErrors(m, err)...)
			if f != nil {
				files = append(files, f)
			}
		}
	}
	if len(errs) > 0 {
		return files, errs
	}
	return files, nil
}

func hasMeta(p string) bool {
	for _, c := range p {
		switch c {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}

// unwrapPath drops the path from an *os.PathError; the caller names the file.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ParseFile parses one rule file. When the file is valid YAML it is
// returned even with errors, so that Compile can report the rest. Environment variables are not expanded in
// rule files: rules hold no secrets, and "${" may legitimately appear in a
// pattern.
func ParseFile(name string, data []byte) (*File, error) {
	doc, err := yamlfile.Parse(name, data)
	if err != nil {
		return nil, err
	}
	f := &File{Name: name, doc: doc}
	var w fileWire
	errs := doc.Decode(doc.Root, &w)
	if _, rn := yamlfile.Lookup(doc.Root, "rules"); doc.Root != nil && rn == nil {
		errs = append(errs, doc.Errorf(doc.Root, "no rules: key"))
	}
	for i := range w.Rules {
		n := &w.Rules[i]
		if n.Kind != yaml.MappingNode {
			errs = append(errs, doc.Errorf(n, "each rule must be a mapping"))
			continue
		}
		var s Spec
		errs = append(errs, doc.Decode(n, &s)...)
		s.File, s.Line, s.node = name, n.Line, n
		f.Rules = append(f.Rules, s)
	}
	if len(errs) > 0 {
		return f, errs
	}
	return f, nil
}
