package callback

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// go test ./callback -run '^$' -bench . -benchmem

func BenchmarkVerify(b *testing.B) {
	at := time.Unix(1669872112, 0)
	for _, n := range []int{1, 2} {
		tokens := []string{vectorToken, "previous-token"}[:n]
		v := NewVerifier(tokens, time.Minute)
		b.Run("tokens="+strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				if v.Verify(at, vectorSign, vectorTime) != AuthOK {
					b.Fatal("rejected")
				}
			}
		})
	}
}

func BenchmarkParseEvents(b *testing.B) {
	doc, err := os.ReadFile("testdata/samples/send-msg-exception.doc-sample.json")
	if err != nil {
		b.Fatal(err)
	}
	push, err := os.ReadFile("testdata/commands/Push.OfflinePush.json")
	if err != nil {
		b.Fatal(err)
	}
	big := []byte(`{"GroupId":"g","Random":1,"EventTime":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"` +
		strings.Repeat("日本語 text ", 80_000) + `"}}]}`) // about 1 MB
	for _, c := range []struct {
		name string
		cmd  string
		body []byte
	}{
		{"doc-sample", CommandSendMsgException, doc},
		{"push-2-events", "Push.OfflinePush", push},
		{"1MB-text", CommandSendMsgException, big},
	} {
		q := Query{AppID: 1400000000, Command: c.cmd}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				items, err := ParseEvents(q, c.body, Limits{})
				if err != nil {
					b.Fatal(err)
				}
				for _, it := range items {
					_ = it.DedupKey()
				}
			}
		})
	}
}
