package testutil

import (
	"testing"

	"github.com/imalert/imalert/callback"
)

// ChatAttacks are what a callback could carry to mention someone or hide a
// link in WeCom, DingTalk or Feishu: none may reach a chat message intact.
var ChatAttacks = []string{
	"<@zhangsan>",        // WeCom markdown mention
	"@13800000000",       // DingTalk mention by mobile
	"@all",               // DingTalk and WeCom: everyone
	`<at user_id="all">`, // Feishu mention of everyone
	`<at id=ou_0123>`,    // Feishu short form
	"[click to verify](http://evil.example/x)", // markdown link
	"![img](http://evil.example/p.png)",        // markdown image
	`<font color="warning">`,                   // WeCom and DingTalk styling
	"&lt;at user_id=&quot;all&quot;&gt;",       // an entity-encoded mention
	"http://evil.example",                      // a bare URL clients would link
	"**bold** _it_ `code` ~~strike~~ # heading",
}

// ChatHostileEvent is the hostile sample (SampleEvent) with ChatAttacks in
// its operator, platform and error info as well as its message text,
// sender and custom data.
func ChatHostileEvent(t testing.TB) *callback.Event {
	t.Helper()
	ev := SampleEvent(t, "send-msg-exception.hostile-text.json")
	ev.OperatorAccount = ChatAttacks[0] + " " + ChatAttacks[1] + " " + ChatAttacks[2]
	ev.OptPlatform = ChatAttacks[3]
	ev.ErrorInfo = ChatAttacks[4] + " " + ChatAttacks[5] + " " + ChatAttacks[6] + " " + ChatAttacks[7] + " " + ChatAttacks[8] + " " + ChatAttacks[10]
	ev.GroupType = ChatAttacks[9]
	return ev
}
