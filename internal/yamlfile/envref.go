package yamlfile

import (
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Unquoted ${VAR} is not valid YAML in flow context: braces are flow
// indicators, so `tokens: [${A}, ${B}]` does not parse. Before parsing, each
// reference is swapped for a placeholder that is a plain scalar anywhere;
// after parsing, every node gets its original text back. Lines and the
// document's structure are unchanged, so no value can inject YAML.
var envRefText = regexp.MustCompile(`\$?\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}\n]*)?\}`)

const placeholderPrefix = "__imalert_env_ref_"

// protectEnvRefs replaces ${...} references and $${...} escapes in data
// with placeholders and returns the originals, indexed by placeholder
// number; ExpandEnv later tells the two apart.
func protectEnvRefs(data []byte) ([]byte, []string) {
	var refs []string
	out := envRefText.ReplaceAllFunc(data, func(m []byte) []byte {
		refs = append(refs, string(m))
		return []byte(placeholderPrefix + strconv.Itoa(len(refs)-1) + "__")
	})
	return out, refs
}

var placeholderRE = regexp.MustCompile(regexp.QuoteMeta(placeholderPrefix) + `(\d+)__`)

// restoreEnvRefs puts the original references back into s.
func restoreEnvRefs(s string, refs []string) string {
	if len(refs) == 0 || !strings.Contains(s, placeholderPrefix) {
		return s
	}
	return placeholderRE.ReplaceAllStringFunc(s, func(p string) string {
		i, err := strconv.Atoi(placeholderRE.FindStringSubmatch(p)[1])
		if err != nil || i >= len(refs) {
			return p
		}
		return refs[i]
	})
}

// restoreNodes puts the original references back into every node.
func restoreNodes(n *yaml.Node, refs []string) {
	if n == nil || len(refs) == 0 {
		return
	}
	if strings.Contains(n.Value, placeholderPrefix) {
		n.Value = restoreEnvRefs(n.Value, refs)
		// The placeholder made the scalar a plain string; a ${VAR} is a
		// string until expanded, as it was before.
	}
	n.HeadComment = restoreEnvRefs(n.HeadComment, refs)
	n.LineComment = restoreEnvRefs(n.LineComment, refs)
	n.FootComment = restoreEnvRefs(n.FootComment, refs)
	for _, c := range n.Content {
		restoreNodes(c, refs)
	}
}
