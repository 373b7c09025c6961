package dingtalk

import (
	"encoding/json"
	"testing"

	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
)

// BenchmarkMessage is the cost of rendering and encoding one page of the
// hostile sample: go test -bench Message -benchmem ./alert/dingtalk
func BenchmarkMessage(b *testing.B) {
	n := New(&config.DingTalkReceiver{MentionMobiles: []string{"13800000000"}, BotFields: config.BotFields{WebhookURL: "https://oapi.dingtalk.com/robot/send"}}, nil)
	nf := notification(testutil.ChatHostileEvent(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(n.Message(page.Build(nf))); err != nil {
			b.Fatal(err)
		}
	}
}
