package callback

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMembersAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range []struct {
		name, body string
		offset     int // the syntax error's, 0: valid
	}{
		{"empty object", ` { } `, 0},
		{"members in any form", `{"a":1,"b":"x","c":[1,{"d":null}],"e":{"f":true},"g":-1.5e+3}`, 0},
		{"escaped and non-ASCII names", `{"\u0041":1,"日本":2,"a\"b":3,"\ud83d\ude00":4}`, 0},
		{"invalid UTF-8 in a name", "{\"\xff\":1}", 0},
		{"the last of two wins", `{"a":1,"a":2}`, 0},
		{"deep", `{"a":[[[[[[[[[[{"b":[]}]]]]]]]]]]}`, 0},
		{"invalid UTF-8 after a value", "{\"GroupId\":\"g\"\xff}", 15},
		{"truncated", `{"a":[1,2`, 9},
		{"trailing value", `{"a":1} {}`, 9},
		{"trailing comma", `{"a":1,}`, 8},
		{"leading zero", `{"a":01}`, 7},
		{"bad escape", `{"a":"\x"}`, 8},
		{"control character in a string", "{\"a\":\"\x01\"}", 7},
		{"bare word", `{"a":nul}`, 9},
		{"missing colon", `{"a" 1}`, 6},
		{"not an object", `[1]`, 1},
		{"mismatched close", `{"a":[1}`, 8},
		{"exponent without digits", `{"a":1e}`, 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := scanMembers([]byte(c.body))
			var want map[string]json.RawMessage
			wantErr := json.Unmarshal([]byte(c.body), &want)
			if c.offset == 0 {
				if err != nil || wantErr != nil {
					t.Fatalf("members: %v, encoding/json: %v", err, wantErr)
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Fatalf("members differ from encoding/json (-want +got):\n%s", d)
				}
				return
			}
			var se *syntaxError
			if !errors.As(err, &se) || se.Offset != c.offset {
				t.Fatalf("error %v, want a syntax error at byte %d", err, c.offset)
			}
			if wantErr == nil {
				t.Fatalf("encoding/json accepts what members refuses")
			}
		})
	}
}

func TestPlainString(t *testing.T) {
	for in, want := range map[string]bool{
		`"abc"`: true, `"日本語"`: true, `""`: true,
		`"a\nb"`: false, "\"\xff\"": false, `"a"b"`: false, `"a`: false, `1`: false, "\"\x01\"": false,
	} {
		if got := plainString([]byte(in)); got != want {
			t.Errorf("plainString(%q) = %v, want %v", in, got, want)
		}
	}
}

func scanMembers(b []byte) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	err := members(b, func(name string, raw []byte) { out[name] = raw })
	return out, err
}

// FuzzScan checks the scanner against encoding/json: the same bodies
// accepted, split into the same members and elements.
func FuzzScan(f *testing.F) {
	for _, b := range seedBodies(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 {
			return
		}
		switch b[0] {
		case '{':
			got, err := scanMembers(b)
			var want map[string]json.RawMessage
			wantErr := json.Unmarshal(b, &want)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("members: %v, encoding/json: %v", err, wantErr)
			}
			if err == nil && !cmp.Equal(want, got) {
				t.Fatalf("members differ: %s", cmp.Diff(want, got))
			}
			if err != nil {
				var se *syntaxError
				var jse *json.SyntaxError
				if errors.As(wantErr, &jse) && errors.As(err, &se) && se.Offset != int(jse.Offset) {
					t.Fatalf("error at byte %d, encoding/json says %d", se.Offset, jse.Offset)
				}
			}
		case '[':
			var got []json.RawMessage
			err := elements(b, func(raw []byte) { got = append(got, raw) })
			var want []json.RawMessage
			wantErr := json.Unmarshal(b, &want)
			if (err == nil) != (wantErr == nil) {
				t.Fatalf("elements: %v, encoding/json: %v", err, wantErr)
			}
			if err == nil && len(want) > 0 && !cmp.Equal(want, got) {
				t.Fatalf("elements differ: %s", cmp.Diff(want, got))
			}
		}
	})
}
