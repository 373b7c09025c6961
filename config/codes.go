package config

import (
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/yamlfile"
)

// Code extends or overrides one entry of the error-code catalogue: its
// meaning on pages and templates, and the severity of pages about it when
// a rule sets none. An empty field keeps the built-in value.
type Code struct {
	Code     int64
	Meaning  string
	Severity string // critical, warning or info
}

type codeWire struct {
	Meaning  string `yaml:"meaning"`
	Severity string `yaml:"severity"`
}

// maxMeaning bounds a configured meaning, which pages show in full.
const maxMeaning = 200

// decodeCodes reads the codes: mapping of error code to {meaning, severity}.
func decodeCodes(doc *yamlfile.Doc, n *yaml.Node) ([]Code, yamlfile.Errors) {
	if n == nil || n.Kind == 0 || n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, yamlfile.Errors{doc.Errorf(n, "codes: want a mapping of error code to {meaning, severity}")}
	}
	var out []Code
	var errs yamlfile.Errors
	seen := map[int64]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		code, err := strconv.ParseInt(k.Value, 10, 64)
		if err != nil {
			errs = append(errs, doc.Errorf(k, "codes: %q is not an error code (want an integer)", k.Value))
			continue
		}
		if line, dup := seen[code]; dup {
			errs = append(errs, doc.Errorf(k, "codes: %d is already listed on line %d", code, line))
			continue
		}
		seen[code] = k.Line
		var w codeWire
		if derrs := doc.Decode(v, &w); len(derrs) > 0 {
			errs = append(errs, derrs...)
			continue
		}
		switch w.Severity {
		case "", "critical", "warning", "info":
		default:
			errs = append(errs, doc.Errorf(yamlfile.At(v, "severity"), "codes: %d: severity must be critical, warning or info, got %q", code, w.Severity))
		}
		if w.Meaning == "" && w.Severity == "" {
			errs = append(errs, doc.Errorf(v, "codes: %d: set meaning, severity or both", code))
		}
		if len([]rune(w.Meaning)) > maxMeaning {
			errs = append(errs, doc.Errorf(yamlfile.At(v, "meaning"), "codes: %d: meaning longer than %d characters", code, maxMeaning))
		}
		out = append(out, Code{Code: code, Meaning: w.Meaning, Severity: w.Severity})
	}
	return out, errs
}
