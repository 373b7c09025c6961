package testutil

import "github.com/imalert/imalert/callback"

// DigestEvents are the events of a sample storm digest: rate limits and a
// content filter across a few groups and senders, one with hostile names.
func DigestEvents() []*callback.Event {
	var out []*callback.Event
	groups := []string{"@TGS#1A", "@TGS#2B", "@TGS#1A", "<at id=all>", "@TGS#1A", "@TGS#2B", "@TGS#3C"}
	for i, g := range groups {
		code := int64(10023)
		if i == 4 {
			code = 80001
		}
		out = append(out, &callback.Event{
			AppID: 1400000000, Command: callback.CommandSendMsgException, ReceivedAt: SampleTime,
			GroupID: g, GroupType: "Public", FromAccount: []string{"jared", "[x](http://evil.example)"}[i%2],
			ErrorCode: code, Present: callback.FieldErrorCode,
		})
	}
	return out
}
