package rules

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/internal/yamlfile"
)

var receivers = map[string]bool{"ops-slack": true, "ops-mail": true, "console": true}

func compileFiles(t *testing.T, patterns ...string) *Engine {
	t.Helper()
	files, err := LoadFiles(patterns)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile(files, Options{Receivers: receivers})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func event(cmd string, code int64, groupType, from string) *callback.Event {
	ev := &callback.Event{Command: cmd, GroupID: "@TGS#1", GroupType: groupType, FromAccount: from, ErrorCode: code,
		Present: callback.FieldGroupID | callback.FieldGroupType | callback.FieldFromAccount | callback.FieldErrorCode}
	return ev
}

func names(rs []*Rule) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return strings.Join(out, ",")
}

func TestMatch(t *testing.T) {
	e := compileFiles(t, "testdata/im.yaml", "testdata/more.yaml")
	const exc = callback.CommandSendMsgException
	tests := []struct {
		name string
		ev   *callback.Event
		want string
	}{
		{"rate limit in public group", event(exc, 10023, "Public", "jared"), "group-rate-limit"},
		{"rate limit in live group", event(exc, 10023, "AVChatRoom", "jared"), "group-rate-limit"},
		{"rate limit in work group", event(exc, 10023, "Private", "jared"), ""},
		{"other code", event(exc, 10024, "Public", "jared"), ""},
		{"other command", event("Group.CallbackAfterSendMsg", 10023, "Public", "jared"), ""},
		{"muted bot, Work written as Private", event(exc, 10017, "Private", "bot_2"), "muted-bots"},
		{"muted human", event(exc, 10017, "Work", "alice"), ""},
		{"10010 from any command", event("Group.CallbackAfterSendMsg", 10010, "Public", "x"), "any-command-10010"},
		{"10010 on the exception callback", event(exc, 10010, "Public", "x"), "any-command-10010"},
		{"member joins", event("Group.CallbackAfterNewMemberJoin", 0, "Public", ""), "member-joins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(e.Match(tt.ev, nil)); got != tt.want {
				t.Errorf("Match = %q, want %q", got, tt.want)
			}
		})
	}
	// Absent fields never match a condition on them.
	ev := &callback.Event{Command: exc}
	if got := names(e.Match(ev, nil)); got != "" {
		t.Errorf("event without fields matched %q", got)
	}
}

func TestCompiledRule(t *testing.T) {
	e := compileFiles(t, "testdata/im.yaml", "testdata/more.yaml")
	r := e.Rules()
	if r[0].Throttle != 10*time.Minute || r[0].File != "testdata/im.yaml" || r[0].Line != 2 {
		t.Errorf("rule 0 = %+v", r[0])
	}
	if r[1].Throttle != DefaultThrottle {
		t.Errorf("unset throttle = %v, want the default %v", r[1].Throttle, DefaultThrottle)
	}
	if r[2].Throttle != 0 {
		t.Errorf("throttle: 0s = %v, want 0", r[2].Throttle)
	}
	ev := event(callback.CommandSendMsgException, 10017, "Work", "bot_1")
	if got, want := r[1].GroupKey(ev), `GroupId="@TGS#1" From_Account="bot_1"`; got != want {
		t.Errorf("GroupKey = %s, want %s", got, want)
	}
	typed := &Rule{GroupBy: []string{"Type"}}
	if a, b := typed.GroupKey(event("", 0, "Work", "")), typed.GroupKey(event("", 0, "Private", "")); a != b || a != `Type="Private"` {
		t.Errorf("GroupKey by Type: Work gives %s, Private %s; want both Type=\"Private\"", a, b)
	}
	ev.Extra = map[string]json.RawMessage{"JoinType": json.RawMessage(`"Apply"`)}
	if got, want := r[3].GroupKey(ev), `GroupId="@TGS#1" JoinType="Apply"`; got != want {
		t.Errorf("GroupKey with a body field = %s, want %s", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	files, loadErr := LoadFiles([]string{"testdata/bad/errors.yaml"})
	_, err := Compile(files, Options{Receivers: receivers})
	err = errors.Join(loadErr, err)
	var es yamlfile.Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v, want yamlfile.Errors", err)
	}
	got := err.Error()
	want := []string{
		`errors.yaml:5: rule "group-rate-limit": unknown receiver "nobody"`,
		`errors.yaml:6: rule "group-rate-limit" is already defined at testdata/bad/errors.yaml:2`,
		`errors.yaml:8: rule "group-rate-limit": group_type: unknown group type "Stadium"`,
		`errors.yaml:9: throttle: invalid duration "soon"`,
		`errors.yaml:10: rule "group-rate-limit": severity must be critical, warning or info, got "urgent"`,
		`errors.yaml:12: rule: name is required`,
		`errors.yaml:14: rule "": receivers: at least one receiver is required`,
		`errors.yaml:17: rule "typo": match: unknown field "eror_code" (did you mean "error_code"?)`,
		`errors.yaml:18: rule "typo": from_account: bad regex "(bot": missing closing )`,
		`errors.yaml:19: rule "typo": group_by: unknown field "group_idd" (did you mean "group_id"?)`,
		`errors.yaml:21: unknown key "colour"`,
		`errors.yaml:25: rule "thresholds": threshold: count must be between 1 and 1000`,
		`errors.yaml:25: threshold.within: negative duration "-1m"`,
		`errors.yaml:26: unknown key "backof" in throttle (did you mean "backoff"?)`,
		`errors.yaml:29: rule "backoff": throttle: backoff must be none or exponential, got "linear"`,
		`errors.yaml:31: rule "backoff": title: unknown field .Nope`,
		`errors.yaml:34: rule "backoff": body: function "meaningg" not defined`,
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q", w)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", n, len(want), got)
	}
	if t.Failed() {
		t.Logf("errors:\n%s", got)
	}
}

func TestLoadFilesMissing(t *testing.T) {
	_, err := LoadFiles([]string{"testdata/nope.yaml"})
	if err == nil || !strings.Contains(err.Error(), "testdata/nope.yaml: rule file does not exist") {
		t.Errorf("err = %v", err)
	}
	files, err := LoadFiles([]string{"testdata/none-*.yaml"})
	if err != nil || len(files) != 0 {
		t.Errorf("empty glob: files %d err %v", len(files), err)
	}
}

func TestDefaultRules(t *testing.T) {
	e, err := Compile(Default(), Options{Receivers: map[string]bool{"console": true}})
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int64]string{10023: "group-rate-limit", 10017: "sender-muted", 80001: "content-filter", 80004: "content-filter", 10010: "missing-group", 10015: "missing-group"} {
		if got := names(e.Match(event(callback.CommandSendMsgException, code, "Public", "u"), nil)); got != want {
			t.Errorf("code %d matched %q, want %q", code, got, want)
		}
	}
}

func TestRuleOptions(t *testing.T) {
	tests := []struct {
		name, spec string
		check      func(r *Rule) bool
		wantErr    string
	}{
		{"fixed throttle", "throttle: 30m", func(r *Rule) bool { return r.Throttle == 30*time.Minute && r.ThrottleMax == 0 }, ""},
		{"throttle mapping", "throttle: {window: 5m}", func(r *Rule) bool { return r.Throttle == 5*time.Minute && r.ThrottleMax == 0 }, ""},
		{"exponential with a cap", "throttle: {window: 5m, backoff: exponential, max: 2h}", func(r *Rule) bool { return r.Throttle == 5*time.Minute && r.ThrottleMax == 2*time.Hour }, ""},
		{"exponential, default cap", "throttle: {window: 5m, backoff: exponential}", func(r *Rule) bool { return r.ThrottleMax == DefaultThrottleMax }, ""},
		{"no throttle", "throttle: 0s", func(r *Rule) bool { return r.Throttle == 0 }, ""},
		{"threshold", "threshold: {count: 5, within: 2m}", func(r *Rule) bool { return r.Threshold == Threshold{5, 2 * time.Minute} }, ""},
		{"first seen has no throttle", "first_seen: true", func(r *Rule) bool { return r.FirstSeen && r.Throttle == 0 }, ""},
		{"first seen with a throttle", "first_seen: true\n    throttle: 10m", nil, "test.yaml:5: rule \"r\": throttle: a first_seen rule pages once per key"},
		{"cap not above the window", "throttle: {window: 1h, backoff: exponential, max: 30m}", nil, "throttle: max must be longer than window"},
		{"cap without backoff", "throttle: {window: 1h, max: 2h}", nil, "throttle: max applies only with backoff: exponential"},
		{"exponential without a window", "throttle: {backoff: exponential}", nil, "throttle: exponential backoff needs a window"},
		{"threshold without within", "threshold: {count: 3}", nil, "threshold: within is required"},
		{"threshold count too large", "threshold: {count: 1001, within: 1m}", nil, "threshold: count must be between 1 and 1000"},
		{"throttle not a duration", "throttle: [1m]", nil, "throttle: want a duration such as 10m or a mapping {window, backoff, max}"},
		{"group_by on a multi-valued field", "group_by: [Text]", nil, "group_by: Text can have several values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := compileYAML(t, "rules:\n  - name: r\n    receivers: [console]\n    "+tt.spec+"\n")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r := e.Rules()[0]; !tt.check(r) {
				t.Errorf("compiled rule = %+v", r)
			}
		})
	}
}

// A value of the wrong type draws one message, which says what the value
// must be; the checks of that value do not repeat it.
func TestTypeErrorIsOneMessage(t *testing.T) {
	const head = "rules:\n  - name: r\n    receivers: [console]\n"
	tests := []struct {
		name, src string
		want      string
	}{
		{"count", head + "    threshold: {count: five, within: 1m}\n", `r.yaml:4: threshold.count: want an integer, got "five"; count must be between 1 and 1000`},
		{"count in block style", head + "    threshold:\n      count: five\n      within: 1m\n", `r.yaml:5: threshold.count: want an integer, got "five"; count must be between 1 and 1000`},
		{"name", "rules:\n  - name: [x]\n    receivers: [console]\n", `r.yaml:2: name: want a string, got a list`},
		{"receivers", "rules:\n  - name: r\n    receivers: {a: 1}\n", `r.yaml:3: receivers: want a list, got a mapping`},
		{"duplicate key", head + "    receivers: [console]\n", `r.yaml:4: mapping key "receivers" already defined at line 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, perr := ParseFile("r.yaml", []byte(tt.src))
			var cerr error
			if f != nil {
				_, cerr = Compile([]*File{f}, Options{Receivers: receivers})
			}
			got := errors.Join(perr, cerr).Error()
			if lines := strings.Split(got, "\n"); len(lines) != 1 || !strings.Contains(got, tt.want) {
				t.Errorf("errors:\n%s\nwant one: %q", got, tt.want)
			}
		})
	}
}
