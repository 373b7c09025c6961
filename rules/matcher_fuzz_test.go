package rules

import (
	"errors"
	"testing"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
)

// FuzzCompileMatch feeds arbitrary silence matchers (JSON from the API)
// through CompileMatch: it must not panic, fail only with yamlfile.Errors,
// and a matcher that compiles must match events without panicking. The
// seed corpus is testdata/fuzz/FuzzCompileMatch plus the seeds below.
func FuzzCompileMatch(f *testing.F) {
	for _, s := range []string{
		`{"error_code": [10023, "80001-80004"]}`,
		`{"GroupId": {"glob": "@TGS#*"}, "From_Account": {"regex": "^bot-"}}`,
		`{"not": {"group_type": "AVChatRoom"}, "any": [{"error_code": 10017}, {"all": [{"sender": "x"}]}]}`,
		`{"eror_code": 1}`, `{}`, `null`, `[1]`, `{"a": &x}`,
	} {
		f.Add([]byte(s))
	}
	events := []*callback.Event{benchEvent(), {Command: "Group.CallbackAfterNewMemberJoin"}, {}}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := CompileMatch("matchers", "silence", data)
		if err != nil {
			var es yamlfile.Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T %v is not yamlfile.Errors", err, err)
			}
			return
		}
		for _, ev := range events {
			m.Matches(ev)
		}
	})
}
