package rules

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
)

// compileYAML compiles one rule file given as text.
func compileYAML(t *testing.T, src string) (*Engine, error) {
	t.Helper()
	f, err := ParseFile("test.yaml", []byte(src))
	if f == nil {
		return nil, err
	}
	e, cerr := Compile([]*File{f}, Options{Receivers: receivers})
	if err != nil || cerr != nil {
		return nil, errors.Join(err, cerr)
	}
	return e, nil
}

// oneRule compiles a rule whose match block is match (indented YAML).
func oneRule(t *testing.T, match string) *Engine {
	t.Helper()
	e, err := compileYAML(t, "rules:\n  - name: r\n    receivers: [console]\n    match:\n"+indent(match, "      "))
	if err != nil {
		t.Fatalf("compile:\n%s\n%v", match, err)
	}
	return e
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// body builds an event for Group.CallbackSendMsgException from the doc
// sample with fields replaced (null deletes a field).
func body(t *testing.T, changes string) *callback.Event {
	t.Helper()
	return bodyFor(t, callback.CommandSendMsgException, changes)
}

func bodyFor(t *testing.T, cmd, changes string) *callback.Event {
	t.Helper()
	base := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(`{
		"CallbackCommand": "Group.CallbackSendMsgException",
		"GroupId": "@TGS#2J4SZEAEL", "Type": "Public", "From_Account": "jared", "Operator_Account": "admin",
		"Random": 123456, "OnlineOnlyFlag": 1,
		"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}}],
		"CloudCustomData": "your cloud custom data", "ErrorCode": 10023,
		"ErrorInfo": "msg count exceeds limit,please retry later", "EventTime": "1670574414123"}`), &base); err != nil {
		t.Fatal(err)
	}
	if changes != "" {
		var ch map[string]json.RawMessage
		if err := json.Unmarshal([]byte(changes), &ch); err != nil {
			t.Fatalf("changes %s: %v", changes, err)
		}
		for k, v := range ch {
			if string(v) == "null" {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
	}
	raw, _ := json.Marshal(base)
	ev, err := callback.Parse(callback.Query{AppID: 1400000000, Command: cmd, ClientIP: "10.0.0.1", OptPlatform: "RESTAPI"}, raw, callback.Limits{})
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	return ev
}

type matchCase struct {
	name    string
	changes string // JSON object of body fields to replace; null deletes
	want    bool
}

func runMatchTable(t *testing.T, match string, cases []matchCase) {
	t.Helper()
	e := oneRule(t, match)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := len(e.Match(body(t, tt.changes), nil)) == 1
			if got != tt.want {
				t.Errorf("match %q with %s = %v, want %v", match, tt.changes, got, tt.want)
			}
		})
	}
}

func TestMatchValue(t *testing.T) {
	tests := []struct {
		name  string
		match string
		cases []matchCase
	}{
		{"number", "error_code: 10023", []matchCase{
			{"equal", "", true}, {"other", `{"ErrorCode": 10024}`, false}, {"as string", `{"ErrorCode": "10023"}`, true}, {"absent", `{"ErrorCode": null}`, false},
		}},
		{"quoted number", `error_code: "10023"`, []matchCase{{"equal", "", true}, {"other", `{"ErrorCode": 1}`, false}}},
		{"wire name", "ErrorCode: 10023", []matchCase{{"equal", "", true}, {"other", `{"ErrorCode": 1}`, false}}},
		{"string", "from_account: jared", []matchCase{
			{"equal", "", true}, {"case differs", `{"From_Account": "Jared"}`, false}, {"prefix", `{"From_Account": "jared2"}`, false}, {"absent", `{"From_Account": null}`, false},
		}},
		{"numeric string value", "from_account: 123", []matchCase{{"digits", `{"From_Account": "123"}`, true}, {"other", "", false}}},
		{"command", "callback_command: Group.CallbackSendMsgException", []matchCase{{"equal", "", true}}},
		{"app", "SdkAppid: 1400000000", []matchCase{{"equal", "", true}}},
		{"query fields", "client_ip: 10.0.0.1\nopt_platform: RESTAPI", []matchCase{{"equal", "", true}}},
		{"online only flag", "online_only_flag: 0", []matchCase{{"one", "", false}, {"zero", `{"OnlineOnlyFlag": 0}`, true}}},
		{"event time", "event_time: 1670574414123", []matchCase{{"string in body", "", true}, {"number in body", `{"EventTime": 1670574414123}`, true}}},
		{"group type Private matches Work", "group_type: Private", []matchCase{
			{"Private", `{"Type": "Private"}`, true}, {"Work", `{"Type": "Work"}`, true}, {"Public", "", false},
		}},
		{"group type Meeting matches ChatRoom", "group_type: Meeting", []matchCase{
			{"ChatRoom", `{"Type": "ChatRoom"}`, true}, {"Meeting", `{"Type": "Meeting"}`, true}, {"lower case", `{"Type": "chatroom"}`, true}, {"AVChatRoom", `{"Type": "AVChatRoom"}`, false},
		}},
		{"unknown body field", "JoinType: Apply", []matchCase{
			{"string", `{"JoinType": "Apply"}`, true}, {"other", `{"JoinType": "Invite"}`, false}, {"absent", "", false}, {"escaped string", `{"JoinType": "App\u006cy"}`, true},
		}},
		{"unknown numeric body field", "MsgSeq: 42", []matchCase{{"number", `{"MsgSeq": 42}`, true}, {"string", `{"MsgSeq": "42"}`, true}, {"other", `{"MsgSeq": 43}`, false}}},
		{"MsgType of any element", "msg_type: TIMImageElem", []matchCase{
			{"only text", "", false},
			{"second element", `{"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "a"}}, {"MsgType": "TIMImageElem", "MsgContent": {}}]}`, true},
			{"no body", `{"MsgBody": null}`, false},
		}},
		{"Text of any text element", "text: red packet", []matchCase{
			{"first", "", true},
			{"second", `{"MsgBody": [{"MsgType": "TIMFaceElem", "MsgContent": {"Index": 1}}, {"MsgType": "TIMTextElem", "MsgContent": {"Text": "red packet"}}]}`, true},
			{"custom element data is not text", `{"MsgBody": [{"MsgType": "TIMCustomElem", "MsgContent": {"Data": "red packet"}}]}`, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runMatchTable(t, tt.match, tt.cases) })
	}
}

func TestMatchList(t *testing.T) {
	tests := []struct {
		name  string
		match string
		cases []matchCase
	}{
		{"codes", "error_code: [10017, 10023]", []matchCase{{"second", "", true}, {"first", `{"ErrorCode": 10017}`, true}, {"neither", `{"ErrorCode": 10016}`, false}}},
		{"accounts", "from_account: [alice, jared]", []matchCase{{"listed", "", true}, {"not listed", `{"From_Account": "bob"}`, false}}},
		{"values and patterns", "from_account: [alice, {glob: \"bot_*\"}, {regex: \"^test\\\\d+$\"}]", []matchCase{
			{"value", `{"From_Account": "alice"}`, true}, {"glob", `{"From_Account": "bot_7"}`, true}, {"regex", `{"From_Account": "test12"}`, true}, {"none", "", false},
		}},
		{"group types in both spellings", "group_type: [Work, ChatRoom]", []matchCase{
			{"Private", `{"Type": "Private"}`, true}, {"Meeting", `{"Type": "Meeting"}`, true}, {"Public", "", false},
		}},
		{"every field must hold", "error_code: [10023]\nfrom_account: [alice]", []matchCase{{"one of two", "", false}, {"both", `{"From_Account": "alice"}`, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runMatchTable(t, tt.match, tt.cases) })
	}
}

func TestMatchRange(t *testing.T) {
	tests := []struct {
		name  string
		match string
		cases []matchCase
	}{
		{"quoted range", `error_code: "80001-80004"`, []matchCase{
			{"below", `{"ErrorCode": 80000}`, false}, {"low end", `{"ErrorCode": 80001}`, true}, {"inside", `{"ErrorCode": 80003}`, true},
			{"high end", `{"ErrorCode": 80004}`, true}, {"above", `{"ErrorCode": 80005}`, false},
		}},
		{"ranges and codes in a list", `error_code: ["80001-80004", 10023, "10100-10200"]`, []matchCase{
			{"code", "", true}, {"first range", `{"ErrorCode": 80002}`, true}, {"second range", `{"ErrorCode": 10150}`, true}, {"between", `{"ErrorCode": 10024}`, false},
		}},
		{"spaces around the dash", `error_code: "80001 - 80004"`, []matchCase{{"inside", `{"ErrorCode": 80002}`, true}}},
		{"other numeric field", `random: "100000-200000"`, []matchCase{{"inside", "", true}, {"outside", `{"Random": 1}`, false}}},
		{"unknown body field as number", `MsgSeq: "10-20"`, []matchCase{
			{"number", `{"MsgSeq": 15}`, true}, {"numeric string", `{"MsgSeq": "20"}`, true}, {"outside", `{"MsgSeq": 21}`, false}, {"literal", `{"MsgSeq": "10-20"}`, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runMatchTable(t, tt.match, tt.cases) })
	}
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		name  string
		match string
		cases []matchCase
	}{
		{"prefix", `from_account: {glob: "bot_*"}`, []matchCase{
			{"match", `{"From_Account": "bot_1"}`, true}, {"empty rest", `{"From_Account": "bot_"}`, true}, {"no match", "", false}, {"whole value", `{"From_Account": "xbot_1"}`, false},
		}},
		{"question mark is one character", `from_account: {glob: "user?"}`, []matchCase{
			{"ascii", `{"From_Account": "user1"}`, true}, {"multibyte", `{"From_Account": "user字"}`, true}, {"two", `{"From_Account": "user12"}`, false},
		}},
		{"star in the middle", `group_id: {glob: "@TGS#*EL"}`, []matchCase{{"match", "", true}, {"no", `{"GroupId": "@TGS#2J4SZEAEX"}`, false}}},
		{"escaped star", `from_account: {glob: "a\\*b"}`, []matchCase{{"literal", `{"From_Account": "a*b"}`, true}, {"star not wild", `{"From_Account": "axb"}`, false}}},
		{"list of globs", `from_account: {glob: ["bot_*", "test_*"]}`, []matchCase{{"second", `{"From_Account": "test_1"}`, true}, {"none", "", false}}},
		{"on a number", `error_code: {glob: "8000?"}`, []matchCase{{"match", `{"ErrorCode": 80004}`, true}, {"no", "", false}}},
		{"on Text", `text: {glob: "*packet*"}`, []matchCase{{"match", "", true}}},
		{"slash is ordinary", `cloud_custom_data: {glob: "a*c"}`, []matchCase{{"across slash", `{"CloudCustomData": "a/b/c"}`, true}}},
		{"backtracking", `error_info: {glob: "*a*a*a*b"}`, []matchCase{{"no", `{"ErrorInfo": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`, false}, {"yes", `{"ErrorInfo": "xaxaxaab"}`, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runMatchTable(t, tt.match, tt.cases) })
	}
}

func TestMatchRegex(t *testing.T) {
	tests := []struct {
		name  string
		match string
		cases []matchCase
	}{
		{"anchored by the author", `from_account: {regex: "^(bot|test)_"}`, []matchCase{
			{"bot", `{"From_Account": "bot_1"}`, true}, {"test", `{"From_Account": "test_x"}`, true}, {"inside", `{"From_Account": "a_bot_1"}`, false},
		}},
		{"unanchored finds", `error_info: {regex: "exceeds"}`, []matchCase{{"inside", "", true}}},
		{"case-insensitive flag", `error_info: {regex: "(?i)MSG COUNT"}`, []matchCase{{"match", "", true}}},
		{"on an unknown field", `TopicId: {regex: "^@TGS#_"}`, []matchCase{{"community topic", `{"TopicId": "@TGS#_abc"}`, true}, {"absent", "", false}}},
		{"on a number", `error_code: {regex: "^100(17|23)$"}`, []matchCase{{"match", "", true}, {"no", `{"ErrorCode": 10024}`, false}}},
		{"a large but bounded regex", `from_account: {regex: '^\w{1,64}@\w{1,64}$'}`, []matchCase{{"address", `{"From_Account": "a@b"}`, true}}},
		{"on any text element", `text: {regex: "红包|packet"}`, []matchCase{
			{"english", "", true}, {"chinese", `{"MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "抢红包"}}]}`, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runMatchTable(t, tt.match, tt.cases) })
	}
}

func TestMatchComposition(t *testing.T) {
	tests := []struct {
		name  string
		match string
		cases []matchCase
	}{
		{"not", "not:\n  group_type: [AVChatRoom]", []matchCase{
			{"public", "", true}, {"live", `{"Type": "AVChatRoom"}`, false}, {"absent field: not holds", `{"Type": null}`, true},
		}},
		{"not of several: none may hold together", "not:\n  group_type: Public\n  from_account: jared", []matchCase{
			{"both", "", false}, {"one", `{"From_Account": "x"}`, true},
		}},
		{"any", "any:\n  - error_code: 10017\n  - from_account: {glob: \"bot_*\"}", []matchCase{
			{"neither", "", false}, {"first", `{"ErrorCode": 10017}`, true}, {"second", `{"From_Account": "bot_1"}`, true},
		}},
		{"all", "all:\n  - error_code: 10023\n  - text: {regex: packet}", []matchCase{
			{"both", "", true}, {"one", `{"ErrorCode": 1}`, false},
		}},
		{"nested", "any:\n  - all:\n      - error_code: 10023\n      - not: {group_type: Public}\n  - from_account: root", []matchCase{
			{"public", "", false}, {"work", `{"Type": "Work"}`, true}, {"root", `{"From_Account": "root"}`, true},
		}},
		{"fields beside composition", "error_code: 10023\nany:\n  - from_account: jared\n  - from_account: alice", []matchCase{
			{"both hold", "", true}, {"code differs", `{"ErrorCode": 1}`, false}, {"sender differs", `{"From_Account": "bob"}`, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runMatchTable(t, tt.match, tt.cases) })
	}
}

// The rule from the issue works as written.
func TestIssueRule(t *testing.T) {
	e, err := compileYAML(t, `rules:
  - name: content-filter-burst
    match:
      callback_command: Group.CallbackSendMsgException
      error_code: ["80001-80004"]
      from_account: {regex: "^(bot|test)_"}
      not:
        group_type: [AVChatRoom]
    threshold: {count: 3, within: 1m}
    group_by: [From_Account]
    throttle: 30m
    severity: critical
    receivers: [ops-slack]
`)
	if err != nil {
		t.Fatal(err)
	}
	r := e.Rules()[0]
	if r.Threshold.Count != 3 || r.Threshold.Within.String() != "1m0s" || r.Throttle.String() != "30m0s" || r.Severity != "critical" {
		t.Errorf("compiled rule = %+v", r)
	}
	for _, tt := range []matchCase{
		{"bot, content filter, public", `{"ErrorCode": 80001, "From_Account": "bot_1"}`, true},
		{"test account, image filter", `{"ErrorCode": 80004, "From_Account": "test_9"}`, true},
		{"live group excluded", `{"ErrorCode": 80002, "From_Account": "bot_1", "Type": "AVChatRoom"}`, false},
		{"human sender", `{"ErrorCode": 80001}`, false},
		{"other code", `{"From_Account": "bot_1"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(e.Match(body(t, tt.changes), nil)) == 1; got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
	if got := len(e.Match(bodyFor(t, "Group.CallbackAfterSendMsg", `{"ErrorCode": 80001, "From_Account": "bot_1"}`), nil)); got != 0 {
		t.Errorf("another command matched")
	}
}

func TestMatchErrors(t *testing.T) {
	tests := []struct {
		name  string
		match string
		want  string // file:line: message substring; the match block starts on line 5
	}{
		{"unknown field", "eror_code: 1", `test.yaml:5: rule "r": match: unknown field "eror_code" (did you mean "error_code"?)`},
		{"unknown composition", "nott: {error_code: 1}", `test.yaml:5: rule "r": match: unknown field "nott" (did you mean "not"?)`},
		{"bad regex", `from_account: {regex: "(bot"}`, `test.yaml:5: rule "r": from_account: bad regex "(bot": missing closing )`},
		{"bad glob", `from_account: {glob: "bot\\"}`, `test.yaml:5: rule "r": from_account: bad glob "bot\\": trailing backslash`},
		{"unknown matcher", `from_account: {regexp: x}`, `test.yaml:5: rule "r": from_account: unknown matcher "regexp" (want glob or regex) (did you mean "regex"?)`},
		{"not a number", "error_code: many", `test.yaml:5: rule "r": error_code: want an integer or a range such as 80001-80004, got "many"`},
		{"empty range", `error_code: "80004-80001"`, `test.yaml:5: rule "r": error_code: range "80004-80001" is empty`},
		{"unknown group type", "group_type: Stadium", `test.yaml:5: rule "r": group_type: unknown group type "Stadium"`},
		{"empty list", "error_code: []", `test.yaml:5: rule "r": error_code: empty list matches nothing`},
		{"null value", "from_account: ~", `test.yaml:5: rule "r": from_account: want a value, got null`},
		{"not needs a mapping", "not: [1]", `test.yaml:5: rule "r": not: want a mapping of conditions`},
		{"any needs a list", "any: {error_code: 1}", `test.yaml:5: rule "r": any: want a list of condition mappings`},
		{"costly regex", `text: {regex: '(\pL|\pN|\pS|\pP){1000}z'}`, `test.yaml:5: rule "r": text: regex "(\\pL|\\pN|\\pS|\\pP){1000}z" is too costly: it compiles to 3003 instructions, more than 500`},
		{"costly regex in a list", `error_info: {regex: [ok, '.{600}']}`, `more than 500`},
		{"error in a nested block", "any:\n  - all:\n      - from_account: {regex: \"[\"}", `test.yaml:7: rule "r": from_account: bad regex "["`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileYAML(t, "rules:\n  - name: r\n    receivers: [console]\n    match:\n"+indent(tt.match, "      "))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
			var es yamlfile.Errors
			if err != nil && !errors.As(err, &es) {
				t.Errorf("err is %T, want yamlfile.Errors", err)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"", "", true}, {"", "a", false}, {"*", "", true}, {"*", "abc", true}, {"a*", "a", true},
		{"a*c", "abbbc", true}, {"a*c", "abbbd", false}, {"*c", "abc", true}, {"?", "", false},
		{"??", "é", false}, {"?", "é", true}, {"*é", "aaé", true}, {`\?`, "?", true}, {`\?`, "a", false},
		{"a**b", "ab", true}, {"*a*b*c*", "xaxbxcx", true}, {"*a*b*c*", "xaxcxbx", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pat, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
		if got := globMatch(tt.pat, []byte(tt.s)); got != tt.want {
			t.Errorf("globMatch(%q, []byte(%q)) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
}

// Nested aliases cannot blow a match block up exponentially.
func TestMatchAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x0: &a0 {error_code: 1}\n")
	for i := 1; i <= 7; i++ {
		b.WriteString("x" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " {any: [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]}\n")
	}
	b.WriteString("rules:\n  - name: bomb\n    receivers: [console]\n    match: *a7\n")
	f, _ := ParseFile("test.yaml", []byte(b.String()))
	_, err := Compile([]*File{f}, Options{Receivers: receivers})
	if err == nil || !strings.Contains(err.Error(), "more than 10000 conditions and values") {
		t.Errorf("err = %v", err)
	}
}
