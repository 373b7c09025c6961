package testutil

// JSONStrings returns every string in a decoded JSON value (maps, slices and
// strings, as encoding/json decodes into any), in no particular order: what
// a receiver of the JSON reads, escapes undone.
func JSONStrings(v any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}
