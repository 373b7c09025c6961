package wecom

import (
	"encoding/json"
	"testing"

	"github.com/imalert/imalert/alert/page"
	"github.com/imalert/imalert/internal/testutil"
)

// BenchmarkMessage is the cost of rendering and encoding one page of the
// hostile sample: go test -bench Message -benchmem ./alert/wecom
func BenchmarkMessage(b *testing.B) {
	n := &Notifier{users: []string{"oncall"}}
	nf := notification(testutil.ChatHostileEvent(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(n.Message(page.Build(nf))); err != nil {
			b.Fatal(err)
		}
	}
}
