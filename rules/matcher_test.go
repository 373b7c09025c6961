package rules

import (
	"errors"
	"strings"
	"testing"

	"github.com/imalert/imalert/internal/yamlfile"
)

// A silence's matchers arrive as JSON: the rule match language, the same
// verdicts as a rule with that match block.
func TestCompileMatch(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		cases []matchCase
	}{
		{"alias and value", `{"error_code": 10023}`, []matchCase{
			{"same code", ``, true},
			{"other code", `{"ErrorCode": 10017}`, false},
		}},
		{"list and range", `{"ErrorCode": [10017, "80001-80004"]}`, []matchCase{
			{"in range", `{"ErrorCode": 80002}`, true},
			{"listed", `{"ErrorCode": 10017}`, true},
			{"neither", ``, false},
		}},
		{"regex and glob", `{"From_Account": {"regex": "^bot-"}, "GroupId": {"glob": "@TGS#2*"}}`, []matchCase{
			{"both", `{"From_Account": "bot-7"}`, true},
			{"sender differs", ``, false},
			{"group differs", `{"From_Account": "bot-7", "GroupId": "@TGS#9"}`, false},
		}},
		{"not any all", `{"not": {"group_type": "Private"}, "any": [{"error_code": 10023}, {"all": [{"error_code": 10017}, {"from_account": "jared"}]}]}`, []matchCase{
			{"rate limit", ``, true},
			{"muted jared", `{"ErrorCode": 10017}`, true},
			{"work group", `{"Type": "Work"}`, false},
			{"muted other", `{"ErrorCode": 10017, "From_Account": "x"}`, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := CompileMatch("matchers", "silence", []byte(tt.src))
			if err != nil {
				t.Fatalf("CompileMatch(%s): %v", tt.src, err)
			}
			for _, c := range tt.cases {
				if got := m.Matches(body(t, c.changes)); got != c.want {
					t.Errorf("%s: Matches(%s) = %v, want %v", c.name, c.changes, got, c.want)
				}
			}
		})
	}
}

func TestCompileMatchErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown field", `{"eror_code": 1}`, `silence: match: unknown field "eror_code" (did you mean "error_code"?)`},
		{"bad regex", `{"from_account": {"regex": "(bot"}}`, `silence: from_account: bad regex "(bot": missing closing )`},
		{"empty range", `{"error_code": "80004-80001"}`, `silence: error_code: range "80004-80001" is empty`},
		{"empty", `{}`, `silence: matchers: at least one condition is required`},
		{"null", `null`, `the top level must be a mapping`},
		{"not a mapping", `[1]`, `the top level must be a mapping`},
		{"syntax", `{"code": `, `matchers`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileMatch("matchers", "silence", []byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			var es yamlfile.Errors
			if !errors.As(err, &es) {
				t.Errorf("err is %T, want yamlfile.Errors", err)
			}
		})
	}
}
