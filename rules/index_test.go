package rules

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/callback"
)

var benchCommands = []string{
	callback.CommandSendMsgException, "Group.CallbackAfterSendMsg", "Group.CallbackBeforeSendMsg",
	"Group.CallbackAfterNewMemberJoin", "Group.CallbackAfterMemberExit", "C2C.CallbackAfterSendMsg",
	"State.StateChange", "Sns.CallbackFriendAdd",
}

// randomRules writes n rules mixing every indexed shape: one command or
// several or any, exact codes, ranges, both, no code, and conditions the
// index does not see (not, any, patterns).
func randomRules(rng *rand.Rand, n int) string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: r%d\n    receivers: [console]\n    match:\n", i)
		switch rng.IntN(4) {
		case 0: // any command
		case 1:
			fmt.Fprintf(&b, "      callback_command: [%s, %s]\n", benchCommands[rng.IntN(len(benchCommands))], benchCommands[rng.IntN(len(benchCommands))])
		default:
			fmt.Fprintf(&b, "      callback_command: %s\n", benchCommands[rng.IntN(len(benchCommands))])
		}
		code := func() int { return 10000 + rng.IntN(60) }
		switch rng.IntN(6) {
		case 0: // no code
		case 1:
			lo := code()
			fmt.Fprintf(&b, "      error_code: \"%d-%d\"\n", lo, lo+rng.IntN(10))
		case 2:
			lo := code()
			fmt.Fprintf(&b, "      error_code: [%d, \"%d-%d\", %d]\n", code(), lo, lo+rng.IntN(5), code())
		case 3:
			fmt.Fprintf(&b, "      error_code: {glob: \"100%d*\"}\n", rng.IntN(6))
		default:
			fmt.Fprintf(&b, "      error_code: [%d, %d]\n", code(), code())
		}
		switch rng.IntN(4) {
		case 0:
			b.WriteString("      not: {group_type: AVChatRoom}\n")
		case 1:
			b.WriteString("      any:\n        - from_account: {glob: \"bot_*\"}\n        - error_code: 10023\n")
		}
	}
	return b.String()
}

func randomEvent(rng *rand.Rand) *callback.Event {
	ev := &callback.Event{
		Command:     benchCommands[rng.IntN(len(benchCommands))],
		GroupType:   []string{"Public", "AVChatRoom"}[rng.IntN(2)],
		FromAccount: []string{"bot_1", "jared"}[rng.IntN(2)],
		Present:     callback.FieldGroupType | callback.FieldFromAccount,
	}
	if rng.IntN(10) > 0 {
		ev.ErrorCode = int64(9995 + rng.IntN(75))
		ev.Present |= callback.FieldErrorCode
	}
	return ev
}

// The index returns exactly what trying every rule in order returns.
func TestIndexAgreesWithScan(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		e, err := compileYAML(t, randomRules(rng, 200))
		if err != nil {
			t.Fatal(err)
		}
		for range 500 {
			ev := randomEvent(rng)
			var want []string
			for _, r := range e.Rules() {
				if r.Matches(ev) {
					want = append(want, r.Name)
				}
			}
			var got []string
			for _, r := range e.Match(ev, nil) {
				got = append(got, r.Name)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("seed %d, event %+v: index differs from a scan (-scan +index):\n%s", seed, ev, diff)
			}
		}
	}
}

func TestMergeRanges(t *testing.T) {
	got := mergeRanges([]codeRange{{5, 9}, {1, 2}, {3, 3}, {8, 12}, {20, 20}})
	want := []codeRange{{1, 3}, {5, 12}, {20, 20}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(codeRange{})); diff != "" {
		t.Errorf("mergeRanges (-want +got):\n%s", diff)
	}
}
