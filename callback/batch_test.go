package callback

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var commandRE = regexp.MustCompile(`"CallbackCommand"\s*:\s*"([A-Za-z0-9._]+)"`)

// commandFixtures maps every callback command to the documentation sample
// bodies checked in for it.
func commandFixtures(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, pattern := range []string{
		"testdata/samples/tencent-docs/*.json",
		"testdata/samples/tencent-docs/legacy-and-guides/*.json",
		"testdata/commands/*.json",
	} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			m := commandRE.FindSubmatch(readFile(t, f))
			if m == nil {
				t.Fatalf("%s: no CallbackCommand", f)
			}
			out[string(m[1])] = append(out[string(m[1])], f)
		}
	}
	return out
}

// undocumented lists commands IM names but for which no public sample body
// was found; they are accepted generically like any other command.
var undocumented = map[string]bool{"Group.CallbackAfterMarkMsgAsRead": true}

// Every command imalert knows has a fixture from Tencent's documentation,
// and every fixture parses under its command.
func TestCommandFixtures(t *testing.T) {
	fixtures := commandFixtures(t)
	for cmd := range knownCommands {
		if len(fixtures[cmd]) == 0 && !undocumented[cmd] {
			t.Errorf("no fixture for %s", cmd)
		}
	}
	for cmd, files := range fixtures {
		if CommandLabel(cmd) != cmd {
			t.Errorf("fixture command %s is not in knownCommands", cmd)
		}
		for _, f := range files {
			q := Query{AppID: 1400000000, Command: cmd}
			items, err := ParseEvents(q, readFile(t, f), Limits{})
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if len(items) == 0 {
				t.Errorf("%s: no events", f)
			}
		}
	}
}

func TestParsePushBatch(t *testing.T) {
	q := Query{AppID: 1400000000, Command: "Push.OfflinePush"}
	items, err := ParseEvents(q, readFile(t, "testdata/commands/Push.OfflinePush.json"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("got %d events, want 2", len(items))
	}
	want := []struct{ to, group, time string }{{"user2", "", "1557481127"}, {"user3", "@TGS#12DEVUDHQ", "1557481127"}}
	for i, it := range items {
		ev := it.Event
		if ev.Command != "Push.OfflinePush" || ev.AppID != 1400000000 {
			t.Errorf("event %d: envelope %s/%d", i, ev.Command, ev.AppID)
		}
		to, _ := ev.Field("To_Account")
		group, _ := ev.Field("GroupID")
		if to != want[i].to || group != want[i].group || ev.EventTime != 1557481127 {
			t.Errorf("event %d: To_Account %q GroupID %q EventTime %d, want %+v", i, to, group, ev.EventTime, want[i])
		}
		if ev.Time().Unix() != 1557481127 {
			t.Errorf("event %d: Time() = %v, want the seconds read as seconds", i, ev.Time())
		}
		var back map[string]any
		if json.Unmarshal(it.Body, &back) != nil || back["To_Account"] != want[i].to {
			t.Errorf("event %d: Body is not the event's own JSON: %s", i, it.Body)
		}
	}
	if items[0].DedupKey() == items[1].DedupKey() {
		t.Error("two different events share a dedup key")
	}
}

func TestParseEventsRejects(t *testing.T) {
	push := Query{AppID: 1, Command: "Push.AllMemberPush"}
	tests := []struct {
		name  string
		q     Query
		body  string
		field string
		has   string
	}{
		{"events not an array", push, `{"Events":{"a":1}}`, "Events", "want an array, got an object"},
		{"event not an object", push, `{"Events":[1]}`, "Events", "element 0: want an object"},
		{"truncated batch", push, `{"Events":[{"a":1}`, "", "invalid JSON"},
		{"bad element in batch", push, `{"Events":[{},{"MsgBody":"x"}]}`, "", ""},
	}
	lim := Limits{MaxDepth: 16, MaxEvents: 8, MaxFields: 32}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := ParseEvents(tt.q, []byte(tt.body), lim)
			if tt.has == "" { // lenient: a bad known field of another command is kept raw
				if err != nil || len(items) != 2 {
					t.Fatalf("got %d items, %v; want 2 and no error", len(items), err)
				}
				return
			}
			var be *BodyError
			if !errors.As(err, &be) || be.Field != tt.field || !strings.Contains(be.Error(), tt.has) {
				t.Fatalf("err = %v, want BodyError on %q containing %q", err, tt.field, tt.has)
			}
		})
	}
}

// A batch over the limits is cut, not refused; every event kept says how
// many were left out.
func TestParseEventsCuts(t *testing.T) {
	push := Query{AppID: 1, Command: "Push.AllMemberPush"}
	many := `{"Events":[` + strings.TrimSuffix(strings.Repeat(`{"To_Account":"u"},`, 9), ",") + `,null]}`
	tests := []struct {
		name    string
		body    string
		events  int
		leftOut LeftOut
	}{
		{"too many events", many, 8, LeftOut{Events: 1}},
		{"deep field in an event", `{"Events":[{"a":[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]],"b":1}]}`, 1, LeftOut{Fields: 1}},
		{"too many fields in an event", `{"Events":[{` + fields(33) + `}]}`, 1, LeftOut{Fields: 1}},
		{"null events", `{"Events":null,"To_Account":"u"}`, 1, LeftOut{}},
	}
	lim := Limits{MaxDepth: 16, MaxEvents: 8, MaxFields: 32}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := ParseEvents(push, []byte(tt.body), lim)
			if err != nil {
				t.Fatalf("ParseEvents: %v", err)
			}
			if len(items) != tt.events {
				t.Fatalf("got %d events, want %d", len(items), tt.events)
			}
			for _, it := range items {
				if it.Event.LeftOut != tt.leftOut {
					t.Errorf("LeftOut = %+v, want %+v", it.Event.LeftOut, tt.leftOut)
				}
			}
		})
	}
}

func fields(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"f` + strings.Repeat("x", i) + `":1`
	}
	return strings.Join(parts, ",")
}

// Long strings are cut at a UTF-8 boundary, never rejected: a message too
// long for IM (80002) must still page.
func TestParseClipsText(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	body := `{"GroupId":"g","ErrorInfo":"` + long + `","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"` + long + `"}}],"Custom":"` + long + `","Obj":{"k":"` + long + `"}}`
	ev, err := Parse(sendMsgException, []byte(body), Limits{MaxTextBytes: 51})
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Truncated {
		t.Error("Truncated not set")
	}
	custom, _ := ev.Field("Custom")
	for name, s := range map[string]string{"ErrorInfo": ev.ErrorInfo, "Text": ev.MsgBody[0].Content.Text, "Custom": custom} {
		if s != strings.Repeat("é", 25) {
			t.Errorf("%s = %q (%d bytes), want 25 runes", name, s, len(s))
		}
	}
	if obj, _ := ev.Field("Obj"); !strings.Contains(obj, long) {
		t.Error("a non-string raw field was altered")
	}
	short, err := Parse(sendMsgException, []byte(`{"GroupId":"g"}`), Limits{MaxTextBytes: 51})
	if err != nil || short.Truncated {
		t.Errorf("short body: Truncated %v, err %v", short.Truncated, err)
	}
}

func TestCutUTF8(t *testing.T) {
	s := "aé😀b" // 1 + 2 + 4 + 1 bytes
	for n, want := range map[int]string{0: "", 1: "a", 2: "a", 3: "aé", 4: "aé", 6: "aé", 7: "aé😀", 8: s, 9: s} {
		if got := CutUTF8(s, n); got != want {
			t.Errorf("CutUTF8(_, %d) = %q, want %q", n, got, want)
		}
	}
	for n := 0; n < 40; n++ {
		if got := CutUTF8(strings.Repeat("日本", 10), n); !utf8.ValidString(got) || len(got) > n {
			t.Errorf("CutUTF8(_, %d) = %q", n, got)
		}
	}
}

func TestDedupKey(t *testing.T) {
	doc := readFile(t, "testdata/samples/send-msg-exception.doc-sample.json")
	key := func(q Query, body string) string {
		t.Helper()
		items, err := ParseEvents(q, []byte(body), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return items[0].DedupKey()
	}
	base := key(sendMsgException, string(doc))
	// Re-encoded (whitespace, field order, EventTime as a number) and other
	// envelope values: the same event.
	var m map[string]any
	_ = json.Unmarshal(doc, &m)
	m["EventTime"] = 1670574414123
	m["ErrorInfo"] = "reworded"
	reenc, _ := json.Marshal(m)
	other := sendMsgException
	other.OptPlatform = "Web"
	if k := key(other, string(reenc)); k != base {
		t.Error("a re-encoded retry has another key")
	}
	m["Random"] = 654321
	changed, _ := json.Marshal(m)
	if key(sendMsgException, string(changed)) == base {
		t.Error("another Random shares the key")
	}
	otherApp := sendMsgException
	otherApp.AppID = 1400000001
	if key(otherApp, string(doc)) == base {
		t.Error("another app shares the key")
	}
	// Without Random and EventTime the whole body decides.
	a := key(sendMsgException, `{"GroupId":"g","ErrorCode":10023,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"a"}}]}`)
	b := key(sendMsgException, `{"GroupId":"g","ErrorCode":10023,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"b"}}]}`)
	if a == b {
		t.Error("bodies without Random/EventTime that differ share a key")
	}
	gen := Query{AppID: 1, Command: "State.StateChange"}
	if key(gen, `{"x":1}`) != key(gen, " {\"x\":1}\n") || key(gen, `{"x":1}`) == key(gen, `{"x":2}`) {
		t.Error("generic key is not the body digest")
	}
	if k := key(gen, `{"x":1}`); len(k) != 32 {
		t.Errorf("key %q is not 32 hex digits", k)
	}
}

func TestSeedCorpusExists(t *testing.T) {
	if _, err := os.Stat("testdata/fuzz/FuzzVerify"); err != nil {
		t.Errorf("FuzzVerify seed corpus missing: %v", err)
	}
}
