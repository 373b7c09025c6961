package yamlfile

import (
	"strings"
	"testing"
)

// An indentation error is reported at the line whose indentation is wrong,
// not where yaml.v3 noticed the enclosing block.
func TestIndentationErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // file:line: message substring
	}{
		{"deeper after a value", "rules:\n  - name: a\n    receivers: [x]\n     severity: info\n",
			"f.yaml:4: this line is indented 5 spaces, deeper than the line before, which already has its value"},
		{"between levels", "rules:\n  - name: a\n    match:\n      error_code: 1\n    severity: info\n   title: x\n",
			"f.yaml:6: this line is indented 3 spaces, which lines up with no enclosing key (want one of 0, 2)"},
		{"nested under a value", "a:\n  b: 1\n    c: 2\n", "f.yaml:3: this line is indented 4 spaces, deeper than the line before"},
		{"after a block scalar", "a:\n  body: |\n    line one\n      deeper is text\n  b: 1\n   c: 2\n", "f.yaml:6: this line is indented 3 spaces"},
		{"after a multi-line flow list", "a:\n  b: [1,\n      2]\n  c: 1\n   d: 2\n", "f.yaml:5: this line is indented 3 spaces"},
		{"not an indentation error", "a: [1, 2\n", "f.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// A type error is one message that names the key, what it wants and what
// it got; a later check of the same value adds to it (Amend).
func TestTypeErrors(t *testing.T) {
	type inner struct {
		Count int  `yaml:"count"`
		On    bool `yaml:"on"`
	}
	type doc struct {
		Name  string   `yaml:"name"`
		Inner inner    `yaml:"inner"`
		List  []string `yaml:"list"`
	}
	src := "name: [a]\ninner:\n  count: five\n  on: maybe\nlist: {a: 1}\n"
	d, err := Parse("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var v doc
	errs := d.Decode(d.Root, &v)
	_, in := Lookup(d.Root, "inner")
	_, count := Lookup(in, "count")
	if !d.Failed(count) {
		t.Error("Failed(count) = false")
	}
	if e := d.Amend(count, "count must be between 1 and 1000"); e != nil {
		t.Errorf("Amend returned a second error %v", e)
	}
	if e := d.Amend(in, "inner is odd"); e == nil {
		t.Error("Amend of a value without a type error returned nil")
	}
	got := errs.Error()
	for _, want := range []string{
		`f.yaml:1: name: want a string, got a list`,
		`f.yaml:3: inner.count: want an integer, got "five"; count must be between 1 and 1000`,
		`f.yaml:4: inner.on: want true or false, got "maybe"`,
		`f.yaml:5: list: want a list, got a mapping`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if n := len(errs); n != 4 {
		t.Errorf("%d errors, want 4:\n%s", n, got)
	}
}

// A value from the environment is never quoted in a type error.
func TestTypeErrorHidesEnvValues(t *testing.T) {
	d, err := Parse("f.yaml", []byte("n: ${SECRET}\n"))
	if err != nil {
		t.Fatal(err)
	}
	d.ExpandEnv(func(string) (string, bool) { return "hunter2", true })
	var v struct {
		N int `yaml:"n"`
	}
	got := d.Decode(d.Root, &v).Error()
	if strings.Contains(got, "hunter2") || !strings.Contains(got, "n: want an integer, got the value from the environment") {
		t.Errorf("got %q", got)
	}
}

// An Unmarshaler's error about a value names the key it belongs to.
func TestUnmarshalerErrorNamesKey(t *testing.T) {
	d, err := Parse("f.yaml", []byte("a:\n  wait: soon\n"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		A struct {
			Wait Duration `yaml:"wait"`
		} `yaml:"a"`
	}
	if got := d.Decode(d.Root, &v).Error(); !strings.Contains(got, `f.yaml:2: a.wait: invalid duration "soon"`) {
		t.Errorf("got %q", got)
	}
}
