package yamlfile

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ${VAR} works unquoted everywhere a value can be, flow sequences and
// mappings included, and expands without ever changing the structure.
func TestEnvRefsInFlowContext(t *testing.T) {
	src := `apps:
  - sdkappid: 1
    tokens: [${A}, ${B}, "${A}-x", '${C:-d,e}', $${LITERAL}]
inline: {a: ${A}, b: ${B}}
block: ${A}
`
	doc, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	doc.ExpandEnv(func(k string) (string, bool) {
		v, ok := map[string]string{"A": "tok-a", "B": "]\n  - injected: [x"}[k]
		return v, ok
	})
	var w struct {
		Apps []struct {
			SdkAppID int      `yaml:"sdkappid"`
			Tokens   []string `yaml:"tokens"`
		} `yaml:"apps"`
		Inline map[string]string `yaml:"inline"`
		Block  string            `yaml:"block"`
	}
	if errs := doc.Decode(doc.Root, &w); len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []string{"tok-a", "]\n  - injected: [x", "tok-a-x", "d,e", "${LITERAL}"}
	if diff := cmp.Diff(want, w.Apps[0].Tokens); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
	if w.Inline["a"] != "tok-a" || w.Block != "tok-a" || len(w.Apps) != 1 {
		t.Errorf("inline %v block %q apps %d", w.Inline, w.Block, len(w.Apps))
	}
}

// Without expansion (rule files), references stay exactly as written.
func TestEnvRefsKeptVerbatim(t *testing.T) {
	doc, err := Parse("r.yaml", []byte("pattern: [${X}, 'a${Y}b']\n# ${Z}\nk: v\n"))
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Pattern []string `yaml:"pattern"`
		K       string   `yaml:"k"`
	}
	if errs := doc.Decode(doc.Root, &w); len(errs) > 0 {
		t.Fatal(errs)
	}
	if diff := cmp.Diff([]string{"${X}", "a${Y}b"}, w.Pattern); diff != "" {
		t.Errorf("pattern (-want +got):\n%s", diff)
	}
}
