package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const codesBase = "apps: [{sdkappid: 1400000000}]\nreceivers: [{name: console, type: console}]\n"

func TestCodes(t *testing.T) {
	c, err := Parse("imalert.yaml", []byte(codesBase+`codes:
  10023: {severity: critical}
  "90001": {meaning: "our backend refused the message", severity: info}
  80001:
    meaning: blocked by the word filter
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []Code{
		{Code: 10023, Severity: "critical"},
		{Code: 90001, Meaning: "our backend refused the message", Severity: "info"},
		{Code: 80001, Meaning: "blocked by the word filter"},
	}
	if diff := cmp.Diff(want, c.Codes); diff != "" {
		t.Errorf("codes (-want +got):\n%s", diff)
	}
}

func TestCodesErrors(t *testing.T) {
	tests := []struct {
		name, codes, want string
	}{
		{"not a mapping", "codes: [10023]", "imalert.yaml:3: codes: want a mapping of error code to {meaning, severity}"},
		{"not a code", "codes:\n  ten: {severity: info}", `imalert.yaml:4: codes: "ten" is not an error code`},
		{"bad severity", "codes:\n  10023: {severity: urgent}", `imalert.yaml:4: codes: 10023: severity must be critical, warning or info, got "urgent"`},
		{"unknown key", "codes:\n  10023: {severity: info, colour: red}", `imalert.yaml:4: unknown key "colour"`},
		{"empty entry", "codes:\n  10023: {}", "imalert.yaml:4: codes: 10023: set meaning, severity or both"},
		{"meaning too long", "codes:\n  10023: {meaning: " + strings.Repeat("x", 201) + "}", "imalert.yaml:4: codes: 10023: meaning longer than 200 characters"},
		{"duplicate code", "codes:\n  10023: {severity: info}\n  10023: {severity: critical}", "imalert.yaml:5: codes: 10023 is already listed on line 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("imalert.yaml", []byte(codesBase+tt.codes+"\n"), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}
