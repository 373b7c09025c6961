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
	Match     MatchSpec           `yaml:"match"`
	GroupBy   []string            `yaml:"group_by"`
	Throttle  yamlfile.Duration   `yaml:"throttle"`
	Severity  string              `yaml:"severity"`
	Receivers yamlfile.StringList `yaml:"receivers"`
	Digest    yamlfile.Duration   `yaml:"digest"`
	Fallback  *FallbackSpec       `yaml:"fallback"`

	File string `yaml:"-"`
	Line int    `yaml:"-"`
	node *yaml.Node
}

// MatchSpec is a rule's match block as written. Every condition that is set
// must hold; a list means any of its values.
type MatchSpec struct {
	CallbackCommand yamlfile.StringList `yaml:"callback_command"`
	ErrorCode       codeList            `yaml:"error_code"`
	GroupType       yamlfile.StringList `yaml:"group_type"`
	FromAccount     yamlfile.StringList `yaml:"from_account"`
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

// codeList reads one error code or a list of them.
type codeList []int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *codeList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var c int64
		if err := n.Decode(&c); err != nil {
			return err
		}
		*l = codeList{c}
		return nil
	}
	var cs []int64
	if err := n.Decode(&cs); err != nil {
		return err
	}
	*l = cs
	return nil
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
