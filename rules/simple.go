package rules

import (
	"maps"

	"gopkg.in/yaml.v3"
)

// maxSimpleMatch bounds the fields of a match block SimpleMatch returns.
const maxSimpleMatch = 8

// SimpleMatch returns the rule's match block as plain data when it is a
// flat mapping of a few fields (no not, any or all), for a silence scoped
// to what the rule matches; nil otherwise.
func (r *Rule) SimpleMatch() map[string]any { return maps.Clone(r.simple) }

// simpleMatch decodes a compiled match block n when it is simple.
func simpleMatch(n *yaml.Node) map[string]any {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode || len(n.Content) == 0 || len(n.Content)/2 > maxSimpleMatch {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case keyNot, keyAny, keyAll, "<<":
			return nil
		}
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return nil
	}
	return m
}
