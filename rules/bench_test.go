package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/imalert/imalert/callback"
)

// benchRules writes n rules shaped like a large deployment: each names a
// command and error codes (one code, a list, or a range), about one in
// four also checks the sender with a regex or the group type, one in fifty
// matches any command by code. Whatever n is, the benchmark event (10023 on
// the exception callback) matches exactly four rules.
func benchRules(n int) string {
	var b strings.Builder
	b.WriteString("rules:\n")
	rule := func(i int, match string) {
		fmt.Fprintf(&b, "  - name: rule-%d\n    receivers: [console]\n    group_by: [GroupId]\n    match:\n%s", i, match)
	}
	exc := callback.CommandSendMsgException
	rule(0, "      callback_command: "+exc+"\n      error_code: [10023]\n")
	rule(1, "      callback_command: "+exc+"\n      error_code: \"10020-10029\"\n      not: {group_type: AVChatRoom}\n")
	rule(2, "      error_code: [10023, 10024]\n      from_account: {regex: \"^(bot|test)_|^jared$\"}\n")
	rule(3, "      callback_command: "+exc+"\n      error_code: 10023\n      group_type: [Public, Work]\n      text: {glob: \"*packet*\"}\n")
	for i := 4; i < n; i++ {
		cmd := benchCommands[i%len(benchCommands)]
		code := 20000 + i // never the benchmark event's code
		var m string
		switch i % 4 {
		case 0:
			m = fmt.Sprintf("      callback_command: %s\n      error_code: %d\n", cmd, code)
		case 1:
			m = fmt.Sprintf("      callback_command: %s\n      error_code: [%d, %d]\n      from_account: {regex: \"^bot_%d\"}\n", cmd, code, code+1, i)
		case 2:
			m = fmt.Sprintf("      callback_command: %s\n      error_code: \"%d-%d\"\n", cmd, code, code+3)
		default:
			m = fmt.Sprintf("      callback_command: %s\n      error_code: %d\n      group_type: [ChatRoom]\n", cmd, code)
		}
		if i%50 == 0 {
			m = fmt.Sprintf("      error_code: %d\n", code)
		}
		rule(i, m)
	}
	return b.String()
}

func benchEvent() *callback.Event {
	return &callback.Event{
		AppID: 1400000000, Command: callback.CommandSendMsgException,
		GroupID: "@TGS#2J4SZEAEL", GroupType: "Public", FromAccount: "jared",
		MsgBody:   []callback.MsgElement{{Type: callback.ElemText, Content: callback.MsgContent{Text: "red packet"}}},
		ErrorCode: 10023, ErrorInfo: "msg count exceeds limit,please retry later",
		Present: callback.FieldGroupID | callback.FieldGroupType | callback.FieldFromAccount | callback.FieldMsgBody |
			callback.FieldErrorCode | callback.FieldErrorInfo,
	}
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1_000, 10_000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			f, err := ParseFile("bench.yaml", []byte(benchRules(n)))
			if err != nil {
				b.Fatal(err)
			}
			e, err := Compile([]*File{f}, Options{Receivers: map[string]bool{"console": true}})
			if err != nil {
				b.Fatal(err)
			}
			ev := benchEvent()
			dst := make([]*Rule, 0, 16)
			if got := len(e.Match(ev, dst)); got != 4 {
				b.Fatalf("event matches %d rules, want 4", got)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				dst = e.Match(ev, dst[:0])
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			src := []byte(benchRules(n))
			b.ReportAllocs()
			for b.Loop() {
				f, err := ParseFile("bench.yaml", src)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Compile([]*File{f}, Options{Receivers: map[string]bool{"console": true}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Matching does not allocate, whatever the rule count.
func TestMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; go test ./rules -run DoesNotAllocate checks this")
	}
	f, err := ParseFile("bench.yaml", []byte(benchRules(1000)))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile([]*File{f}, Options{Receivers: map[string]bool{"console": true}})
	if err != nil {
		t.Fatal(err)
	}
	ev := benchEvent()
	dst := make([]*Rule, 0, 16)
	if n := testing.AllocsPerRun(100, func() { dst = e.Match(ev, dst[:0]) }); n != 0 {
		t.Errorf("Match allocates %v times per event, want 0", n)
	}
}
