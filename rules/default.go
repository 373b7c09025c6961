package rules

import _ "embed"

//go:embed builtin/default.yaml
var builtin []byte

// BuiltinName is the file name errors and pages use for the built-in rules.
const BuiltinName = "<built-in>/rules.yaml"

// Default returns the built-in rule file, which pages the "console"
// receiver about the common group-message failures.
func Default() []*File {
	f, err := ParseFile(BuiltinName, builtin)
	// The built-in file is tested; an error here is a build defect.
	if err != nil {
		panic("rules: built-in rules are invalid: " + err.Error())
	}
	return []*File{f}
}
