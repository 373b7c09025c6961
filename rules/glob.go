package rules

import "errors"

// checkGlob reports whether pat is a valid glob: "*" matches any run of
// characters, "?" any one character, and "\" makes the next character
// literal.
func checkGlob(pat string) error {
	for i := 0; i < len(pat); i++ {
		if pat[i] == '\\' {
			if i+1 == len(pat) {
				return errors.New("trailing backslash")
			}
			i++
		}
	}
	return nil
}

// globMatch reports whether s matches the glob pat as a whole. It works on
// strings and byte slices alike and never allocates. A "*" backtracks only
// to the most recent star, so matching is linear in len(pat)*len(s) at worst.
func globMatch[S ~string | ~[]byte](pat string, s S) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pat) {
			switch c := pat[p]; c {
			case '*':
				starP, starI = p, i
				p++
				continue
			case '?':
				p++
				i += runeLen(s[i])
				if i > len(s) {
					i = len(s)
				}
				continue
			case '\\':
				if p+1 < len(pat) && pat[p+1] == s[i] {
					p += 2
					i++
					continue
				}
			default:
				if c == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last star swallow one more character and retry.
		starI += runeLen(s[starI])
		if starI > len(s) {
			return false
		}
		p, i = starP+1, starI
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}

// runeLen is the length of the UTF-8 sequence starting with byte b, so that
// "?" and "*" step over whole characters.
func runeLen(b byte) int {
	switch {
	case b < 0xC0:
		return 1
	case b < 0xE0:
		return 2
	case b < 0xF0:
		return 3
	default:
		return 4
	}
}
