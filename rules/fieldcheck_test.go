package rules

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imalert/imalert/internal/yamlfile"
)

// compileOne compiles one rule whose match block (and group_by) is given,
// and returns its errors and warnings as text.
func compileOne(t *testing.T, match, groupBy string) (errs, warns string) {
	t.Helper()
	src := "rules:\n  - name: r\n    receivers: [console]\n"
	if groupBy != "" {
		src += "    group_by: " + groupBy + "\n"
	}
	if match != "" {
		src += "    match:\n"
		for _, l := range strings.Split(match, "\n") {
			src += "      " + l + "\n"
		}
	}
	f, err := ParseFile("r.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	e, err := Compile([]*File{f}, Options{Receivers: map[string]bool{"console": true}})
	if err != nil {
		var es yamlfile.Errors
		if !errors.As(err, &es) {
			t.Fatalf("err = %v, want yamlfile.Errors", err)
		}
		return err.Error(), ""
	}
	return "", e.Warnings().Error()
}

// A field name that is a case or underscore typo of a known name matches
// nothing (in group_by: puts every event under one key), so it is an error
// with the name meant; a body field no documented command carries may be
// new, so it is a warning naming the closest known field.
func TestFieldTypos(t *testing.T) {
	const exc = "callback_command: Group.CallbackSendMsgException\n"
	tests := []struct {
		name, match, groupBy string
		err, warn            string // substrings; "" for none
	}{
		{"wire name", "ErrorCode: 10023", "", "", ""},
		{"alias", "error_code: 10023", "[group_id]", "", ""},
		{"case typo", "ErrorCOde: 10023", "", `unknown field "ErrorCOde" (did you mean "ErrorCode"?)`, ""},
		{"lower-case typo of a wire name", "Errorcode: 10023", "", `unknown field "Errorcode" (did you mean "ErrorCode"?)`, ""},
		{"underscore typo of an alias", "errorcode: 10023", "", `unknown field "errorcode" (did you mean "error_code"?)`, ""},
		{"GroupID in group_by", "error_code: 10023", "[GroupID]", `group_by: unknown field "GroupID" (did you mean "GroupId"?); GroupID is carried only by Push.OfflinePush`, ""},
		{"GroupID in match", "GroupID: g", "", `match: unknown field "GroupID" (did you mean "GroupId"?)`, ""},
		{"GroupID where IM sends it", "callback_command: Push.OfflinePush\nGroupID: g", "[GroupID]", "", ""},
		{"typo inside not", "not: {From_account: bot}", "", `unknown field "From_account" (did you mean "From_Account"?)`, ""},
		{"case typo of a documented body field", "TOPICID: t", "", `(did you mean "TopicId"?)`, ""},
		{"documented body field", "TopicId: t", "", "", ""},
		{"undocumented body field", "TopicID2: t", "", "", `no documented callback command carries "TopicID2" (the closest known field is "TopicId")`},
		{"undocumented in group_by", "error_code: 10023", "[Sender]", "", `group_by: no documented callback command carries "Sender"`},
		{"field the command does not carry", exc + "To_Account: u", "", "", `"To_Account" is not in the documented body of Group.CallbackSendMsgException`},
		{"GroupId under Push", "callback_command: Push.OfflinePush\nGroupId: g", "", "", `"GroupId" is not in the documented body of Push.OfflinePush (did you mean "GroupID"?)`},
		{"text under a command with messages", exc + "text: {glob: '*x*'}", "", "", ""},
		{"command typo", "callback_command: Group.CallbackSendMsgExeption", "", `"Group.CallbackSendMsgExeption" is not a documented callback command (did you mean "Group.CallbackSendMsgException"?)`, ""},
		{"command in the wrong case", "callback_command: group.callbacksendmsgexception", "", `(did you mean "Group.CallbackSendMsgException"?)`, ""},
		{"command list with one typo", "callback_command: [State.StateChange, Sns.Nope]", "", `"Sns.Nope" is not a documented callback command`, ""},
		{"command glob", "callback_command: {glob: 'Group.*'}", "", "", ""},
		{"command glob matching nothing", "callback_command: {glob: 'Grp.*'}", "", `glob "Grp.*" matches no documented callback command`, ""},
		{"command regex matching nothing", "callback_command: {regex: '^Group\\.CallbackSendMsgExeption$'}", "", `regex "^Group\\.CallbackSendMsgExeption$" matches no documented callback command`, ""},
		{"command regex", "callback_command: {regex: 'Exception$'}", "", "", ""},
		{"MsgBody", "MsgBody: x", "", "MsgBody holds the message elements; match msg_type or text", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs, warns := compileOne(t, tt.match, tt.groupBy)
			for _, c := range []struct{ kind, got, want string }{{"errors", errs, tt.err}, {"warnings", warns, tt.warn}} {
				if c.want == "" && c.got != "" || !strings.Contains(c.got, c.want) {
					t.Errorf("%s = %q, want %q", c.kind, c.got, c.want)
				}
			}
		})
	}
}

// The rules shipped and used as examples draw no warning.
func TestShippedRulesHaveNoWarnings(t *testing.T) {
	files := Default()
	more, err := LoadFiles([]string{"im.yaml", filepath.Join("testdata", "*.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, more...) {
		e, err := Compile([]*File{f}, Options{Receivers: receivers})
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if w := e.Warnings(); len(w) > 0 {
			t.Errorf("%s: warnings:\n%v", f.Name, w)
		}
	}
}
