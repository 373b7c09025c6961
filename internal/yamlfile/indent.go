package yamlfile

import (
	"bytes"
	"fmt"
	"strings"
)

// indentErrors are the yaml.v3 syntax errors a wrong indentation causes.
// yaml.v3 reports them at the line where the enclosing block began (or
// where it noticed), which can be far from the line at fault.
var indentErrors = map[string]bool{
	"did not find expected key":                              true,
	"did not find expected '-' indicator":                    true,
	"mapping values are not allowed in this context":         true,
	"block sequence entries are not allowed in this context": true,
	"could not find expected ':'":                            true,
}

// badIndent finds the first line, from line from on, whose indentation
// cannot be right: deeper than the line before when that line already
// holds its value, or lining up with no enclosing level. It returns 0 when
// it finds none. It reads block style only; lines inside flow collections
// ([...], {...}) and block scalars (| and >) are skipped.
func badIndent(data []byte, from int) (line int, why string) {
	var stack []int // indentation of the open block levels
	opens := true   // the previous line ends a key with no value: the next may nest
	scalar := -1    // inside a block scalar: the indentation of its key
	flow := 0       // depth of open flow collections
	for i, raw := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		text := strings.TrimRight(string(raw), "\r")
		body := strings.TrimLeft(text, " ")
		ind := len(text) - len(body)
		if body == "" || body[0] == '#' {
			continue
		}
		if scalar >= 0 {
			if ind > scalar {
				continue
			}
			scalar = -1
		}
		if flow > 0 {
			flow = max(flow+flowDepth(body), 0)
			continue
		}
		if strings.HasPrefix(body, "---") || strings.HasPrefix(body, "...") {
			stack, opens = nil, true
			continue
		}
		if body[0] == '\t' && n >= from {
			return n, "a tab in the indentation: YAML indents with spaces only"
		}
		top := -1
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch {
		case ind > top:
			if top >= 0 && !opens && n >= from {
				return n, fmt.Sprintf("this line is indented %d spaces, deeper than the line before, which already has its value", ind)
			}
			stack = append(stack, ind)
		case ind < top:
			for len(stack) > 0 && stack[len(stack)-1] > ind {
				stack = stack[:len(stack)-1]
			}
			if (len(stack) == 0 || stack[len(stack)-1] != ind) && n >= from {
				return n, fmt.Sprintf("this line is indented %d spaces, which lines up with no enclosing key (%s)", ind, levels(stack))
			}
			if len(stack) == 0 {
				stack = append(stack, ind)
			}
		}
		// A sequence item's content is a level of its own: "- name: r"
		// puts the item's keys two columns in.
		for strings.HasPrefix(body, "- ") || body == "-" {
			rest := strings.TrimLeft(body[1:], " ")
			if rest == "" {
				break
			}
			ind += len(body) - len(rest)
			stack = append(stack, ind)
			body = rest
		}
		body = stripComment(body)
		opens = strings.HasSuffix(body, ":") || body == "-"
		if blockScalar(body) {
			scalar = ind
		}
		flow = max(flowDepth(body), 0)
	}
	return 0, ""
}

// levels lists the indentations open at a point, for a message.
func levels(stack []int) string {
	if len(stack) == 0 {
		return "want 0"
	}
	parts := make([]string, len(stack))
	for i, v := range stack {
		parts[i] = fmt.Sprint(v)
	}
	return "want one of " + strings.Join(parts, ", ")
}

// blockScalar reports whether a line ends with a block scalar indicator
// (| or >, with optional chomping and indentation indicators).
func blockScalar(body string) bool {
	i := strings.LastIndex(body, ": ")
	v := body
	if i >= 0 {
		v = body[i+2:]
	} else if strings.HasPrefix(body, "- ") {
		v = body[2:]
	} else {
		return false
	}
	v = strings.TrimSpace(v)
	return v != "" && (v[0] == '|' || v[0] == '>') && strings.Trim(v[1:], "+-0123456789") == ""
}

// stripComment drops a trailing comment outside quotes.
func stripComment(s string) string {
	inS, inD := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' && !inD:
			inS = !inS
		case c == '"' && !inS:
			inD = !inD
		case c == '#' && !inS && !inD && i > 0 && (s[i-1] == ' ' || s[i-1] == '\t'):
			return strings.TrimRight(s[:i], " \t")
		}
	}
	return strings.TrimRight(s, " \t")
}

// flowDepth counts the flow collections a line opens, less those it closes.
func flowDepth(s string) int {
	d := 0
	inS, inD := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' && !inD:
			inS = !inS
		case c == '"' && !inS:
			inD = !inD
		case inS || inD:
		case c == '[' || c == '{':
			d++
		case c == ']' || c == '}':
			d--
		case c == '#' && i > 0 && s[i-1] == ' ':
			return d
		}
	}
	return d
}
