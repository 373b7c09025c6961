package callback

import (
	"encoding/json"
	"unicode/utf8"
)

// A hand-written scanner splits a body into its fields in one validating
// pass: encoding/json validates a value in full each time it is handed
// one, and decodes through reflection, which made parsing a callback
// the largest cost of answering one. Only syntax is checked here; values
// are decoded by their fields, with encoding/json where a value is not
// a plain string.

// maxNesting is encoding/json's own limit, so the two refuse alike.
const maxNesting = 10000

// syntaxError is a body that is not JSON. Offset follows encoding/json:
// the byte after the offending one, or the length at an early end.
type syntaxError struct{ Offset int }

func (e *syntaxError) Error() string { return "invalid JSON" }

type scanner struct {
	b     []byte
	i     int
	stack []byte // open containers: '{' or '['
}

func (s *scanner) fail() error {
	if s.i >= len(s.b) {
		return &syntaxError{Offset: len(s.b)}
	}
	return &syntaxError{Offset: s.i + 1}
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) expect(c byte) error {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != c {
		return s.fail()
	}
	s.i++
	return nil
}

// str scans a string starting at s.i. It reports whether the string is
// plain: no escapes and valid UTF-8, so its bytes are its value.
func (s *scanner) str() (plain bool, err error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false, s.fail()
	}
	s.i++
	start, plain, high := s.i, true, false
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			if plain && high {
				plain = utf8.Valid(s.b[start:s.i])
			}
			s.i++
			return plain, nil
		case c < 0x20:
			return false, s.fail()
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				return false, s.fail()
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for range 4 {
					if s.i >= len(s.b) || !isHex(s.b[s.i]) {
						return false, s.fail()
					}
					s.i++
				}
			default:
				return false, s.fail()
			}
		default:
			if c >= utf8.RuneSelf {
				high = true
			}
			s.i++
		}
	}
	return false, s.fail()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (s *scanner) digits() error {
	if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
		return s.fail()
	}
	for s.i < len(s.b) && isDigit(s.b[s.i]) {
		s.i++
	}
	return nil
}

func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if err := s.digits(); err != nil {
		return err
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if err := s.digits(); err != nil {
			return err
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		return s.digits()
	}
	return nil
}

func (s *scanner) literal(word string) error {
	for j := 0; j < len(word); j++ {
		if s.i >= len(s.b) || s.b[s.i] != word[j] {
			return s.fail()
		}
		s.i++
	}
	return nil
}

// key scans an object member's name and its colon.
func (s *scanner) key() error {
	s.space()
	if _, err := s.str(); err != nil {
		return err
	}
	return s.expect(':')
}

// value scans one value starting at or after s.i, containers included,
// without recursion: a hostile body cannot grow the goroutine stack.
func (s *scanner) value() error {
	base := len(s.stack)
	for {
		s.space()
		if s.i >= len(s.b) {
			return s.fail()
		}
		closed := true // whether a whole value has just been scanned
		switch c := s.b[s.i]; {
		case c == '{' || c == '[':
			s.i++
			s.space()
			if s.i < len(s.b) && s.b[s.i] == c+2 { // '}' or ']'
				s.i++
				break
			}
			if len(s.stack) >= maxNesting {
				return s.fail()
			}
			s.stack = append(s.stack, c)
			if c == '{' {
				if err := s.key(); err != nil {
					return err
				}
			}
			closed = false
		case c == '"':
			if _, err := s.str(); err != nil {
				return err
			}
		case c == '-' || isDigit(c):
			if err := s.number(); err != nil {
				return err
			}
		case c == 't':
			if err := s.literal("true"); err != nil {
				return err
			}
		case c == 'f':
			if err := s.literal("false"); err != nil {
				return err
			}
		case c == 'n':
			if err := s.literal("null"); err != nil {
				return err
			}
		default:
			return s.fail()
		}
		for closed {
			if len(s.stack) == base {
				return nil
			}
			s.space()
			if s.i >= len(s.b) {
				return s.fail()
			}
			open := s.stack[len(s.stack)-1]
			switch c := s.b[s.i]; {
			case c == ',':
				s.i++
				if open == '{' {
					if err := s.key(); err != nil {
						return err
					}
				}
				closed = false
			case c == open+2:
				s.i++
				s.stack = s.stack[:len(s.stack)-1]
			default:
				return s.fail()
			}
		}
	}
}

// end checks that nothing but space follows the value.
func (s *scanner) end() error {
	s.space()
	if s.i < len(s.b) {
		return s.fail()
	}
	return nil
}

// members calls fn with each member of the object b, in order, once all
// of b has proved to be one valid JSON object (fn never sees a member of
// a body refused further on). Raw values are sub-slices of b.
func members(b []byte, fn func(name string, raw []byte)) error {
	type member struct {
		k, v  [2]int // name with its quotes, and value: b[k[0]:k[1]]
		plain bool
	}
	var buf [24]member
	found := buf[:0]
	s := scanner{b: b}
	if err := s.expect('{'); err != nil {
		return err
	}
	s.space()
	if s.i < len(b) && b[s.i] == '}' {
		s.i++
	} else {
		for {
			s.space()
			var m member
			m.k[0] = s.i
			plain, err := s.str()
			if err != nil {
				return err
			}
			m.k[1], m.plain = s.i, plain
			if err := s.expect(':'); err != nil {
				return err
			}
			s.space()
			m.v[0] = s.i
			if err := s.value(); err != nil {
				return err
			}
			m.v[1] = s.i
			found = append(found, m)
			s.space()
			if s.i < len(b) && b[s.i] == ',' {
				s.i++
				continue
			}
			if err := s.expect('}'); err != nil {
				return err
			}
			break
		}
	}
	if err := s.end(); err != nil {
		return err
	}
	for _, m := range found {
		fn(unquote(b[m.k[0]:m.k[1]], m.plain), b[m.v[0]:m.v[1]])
	}
	return nil
}

// elements calls fn with each element of the array b, in order, once all
// of b has proved to be one valid JSON array.
func elements(b []byte, fn func(raw []byte)) error {
	var buf [16][2]int
	found := buf[:0]
	s := scanner{b: b}
	if err := s.expect('['); err != nil {
		return err
	}
	s.space()
	if s.i < len(b) && b[s.i] == ']' {
		s.i++
	} else {
		for {
			s.space()
			start := s.i
			if err := s.value(); err != nil {
				return err
			}
			found = append(found, [2]int{start, s.i})
			s.space()
			if s.i < len(b) && b[s.i] == ',' {
				s.i++
				continue
			}
			if err := s.expect(']'); err != nil {
				return err
			}
			break
		}
	}
	if err := s.end(); err != nil {
		return err
	}
	for _, e := range found {
		fn(b[e[0]:e[1]])
	}
	return nil
}

// unquote turns a scanned JSON string into Go's. A plain string is its
// bytes; anything else goes through encoding/json, which also replaces
// invalid UTF-8 as it always has.
func unquote(raw []byte, plain bool) string {
	if plain {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// plainString reports whether raw is one JSON string whose bytes between
// the quotes are its value.
func plainString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	s := scanner{b: raw}
	plain, err := s.str()
	return err == nil && plain && s.i == len(raw)
}
