package callback

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var sendMsgException = Query{AppID: 1400000000, Command: CommandSendMsgException, ClientIP: "10.0.0.1", OptPlatform: "RESTAPI"}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseDocSample(t *testing.T) {
	ev, err := Parse(sendMsgException, readFile(t, "testdata/samples/send-msg-exception.doc-sample.json"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Event{
		AppID: 1400000000, Command: CommandSendMsgException, ClientIP: "10.0.0.1", OptPlatform: "RESTAPI",
		GroupID: "@TGS#2J4SZEAEL", GroupType: "Public", FromAccount: "jared", OperatorAccount: "admin",
		Random: 123456, OnlineOnlyFlag: 1,
		MsgBody:         []MsgElement{{Type: ElemText, Content: MsgContent{Text: "red packet"}, Raw: json.RawMessage(`{"Text": "red packet"}`)}},
		CloudCustomData: "your cloud custom data",
		ErrorCode:       10023, ErrorInfo: "msg count exceeds limit,please retry later",
		EventTime: 1670574414123,
		Present: FieldGroupID | FieldGroupType | FieldFromAccount | FieldOperatorAccount | FieldRandom |
			FieldOnlineOnlyFlag | FieldMsgBody | FieldCloudCustomData | FieldErrorCode | FieldErrorInfo | FieldEventTime,
	}
	opt := cmp.Transformer("raw", func(r json.RawMessage) string { return strings.Join(strings.Fields(string(r)), "") })
	if diff := cmp.Diff(want, ev, opt); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
	if got, want := ev.Time(), time.UnixMilli(1670574414123).UTC(); !got.Equal(want) {
		t.Errorf("Time() = %v, want %v", got, want)
	}
}

func TestParseSamples(t *testing.T) {
	tests := []struct {
		file      string
		code      int64
		groupType string
		eventTime int64
		excerpt   string
	}{
		{"send-msg-exception.doc-sample.json", 10023, "Public", 1670574414123, "red packet"},
		{"send-msg-exception.numeric-eventtime.json", 10017, "Community", 1764688540182, `[custom: gift] thanks!`},
		{"send-msg-exception.content-filter.json", 80004, "AVChatRoom", 1764688541000, "[image]"},
		{"send-msg-exception.hostile-text.json", 10023, "Public", 1764688542000, "<!here> urgent"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := Parse(sendMsgException, readFile(t, filepath.Join("testdata/samples", tt.file)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if ev.ErrorCode != tt.code || ev.GroupType != tt.groupType || ev.EventTime != tt.eventTime {
				t.Errorf("got code %d type %q time %d, want %d %q %d", ev.ErrorCode, ev.GroupType, ev.EventTime, tt.code, tt.groupType, tt.eventTime)
			}
			if !strings.HasPrefix(ev.Excerpt(), tt.excerpt) {
				t.Errorf("Excerpt() = %q, want prefix %q", ev.Excerpt(), tt.excerpt)
			}
		})
	}
}

// Every documented sample body of every command must parse under its own
// command, and under Group.CallbackSendMsgException's strict rules only if
// it is that command.
func TestParseTencentDocSamples(t *testing.T) {
	files, _ := filepath.Glob("testdata/samples/tencent-docs/*.json")
	more, _ := filepath.Glob("testdata/samples/tencent-docs/legacy-and-guides/*.json")
	files = append(files, more...)
	if len(files) < 50 {
		t.Fatalf("found %d sample files, want the 52 documented ones", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			body := readFile(t, f)
			var head struct{ CallbackCommand string }
			if err := json.Unmarshal(body, &head); err != nil || head.CallbackCommand == "" {
				t.Fatalf("sample has no CallbackCommand: %v", err)
			}
			q := Query{AppID: 1400000000, Command: head.CallbackCommand}
			ev, err := Parse(q, body, Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if ev.Command != head.CallbackCommand {
				t.Errorf("Command = %q, want %q", ev.Command, head.CallbackCommand)
			}
			// Nothing is dropped: every top-level field is typed or in Extra.
			var all map[string]json.RawMessage
			_ = json.Unmarshal(body, &all)
			for k := range all {
				if k == "CallbackCommand" {
					continue
				}
				if _, ok := ev.Field(k); !ok && k != "MsgBody" {
					t.Errorf("field %s not reachable through Field", k)
				}
			}
		})
	}
}

func TestParseAllElements(t *testing.T) {
	ev, err := Parse(sendMsgException, readFile(t, "testdata/good/all-elements.json"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.ErrorCode != 80002 {
		t.Errorf("ErrorCode from a decimal string = %d, want 80002", ev.ErrorCode)
	}
	if ev.Random != 4294967295 {
		t.Errorf("Random = %d, want 4294967295", ev.Random)
	}
	wantTypes := []string{ElemText, ElemLocation, ElemFace, ElemCustom, ElemSound, ElemImage, ElemFile, ElemVideo, ElemRelay, "TIMFutureElem"}
	var gotTypes []string
	for _, m := range ev.MsgBody {
		gotTypes = append(gotTypes, m.Type)
	}
	if diff := cmp.Diff(wantTypes, gotTypes); diff != "" {
		t.Errorf("element types (-want +got):\n%s", diff)
	}
	c := ev.MsgBody
	checks := []struct {
		name      string
		got, want any
	}{
		{"location lat", float64(c[1].Content.Latitude), 22.5431},
		{"face index", int64(c[2].Content.Index), int64(1)},
		{"custom desc", c[3].Content.Desc, "notification"},
		{"sound second", int64(c[4].Content.Second), int64(1)},
		{"image renditions", len(c[5].Content.ImageInfo), 3},
		{"image width", int64(c[5].Content.ImageInfo[0].Width), int64(2448)},
		{"file name", c[6].Content.FileName, "report.pdf"},
		{"video thumb height", int64(c[7].Content.ThumbHeight), int64(1280)},
		{"relay abstracts", len(c[8].Content.AbstractList), 2},
		{"unknown element raw", strings.Contains(string(c[9].Raw), "Whatever"), true},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	for _, k := range []string{"TopicId", "MsgSeq", "MsgTime", "MsgPriority", "FutureField"} {
		if _, ok := ev.Extra[k]; !ok {
			t.Errorf("unknown field %s not kept in Extra", k)
		}
	}
	if v, _ := ev.Field("TopicId"); v != "@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_TestTopic" {
		t.Errorf("Field(TopicId) = %q", v)
	}
	if v, _ := ev.Field("MsgSeq"); v != "991" {
		t.Errorf("Field(MsgSeq) = %q, want 991", v)
	}
	wantExcerpt := "hello [location: office] [face: 1] [custom: notification] [sound: 1s] [image] [file: report.pdf] [video: 5s] [forwarded: Chat history] [TIMFutureElem]"
	if got := ev.Excerpt(); got != wantExcerpt {
		t.Errorf("Excerpt() =\n %q\nwant\n %q", got, wantExcerpt)
	}
}

func TestParseBadBodies(t *testing.T) {
	tests := []struct {
		file  string
		field string // BodyError.Field; "" for the body as a whole
		msg   string // stable substring of the message
	}{
		{"truncated.json", "", "invalid JSON"},
		{"array.json", "", "not a JSON object"},
		{"null.json", "", "not a JSON object"},
		{"trailing.json", "", "invalid JSON"},
		{"errorcode-object.json", "ErrorCode", "want an integer, got an object"},
		{"errorcode-float.json", "ErrorCode", "want an integer"},
		{"groupid-number.json", "GroupId", "want a string, got a number"},
		{"from-array.json", "From_Account", "want a string, got an array"},
		{"msgbody-string.json", "MsgBody", "want an array, got a string"},
		{"msgbody-numbers.json", "MsgBody", "element 0: want an object"},
		{"msgbody-no-msgtype.json", "MsgBody", "MsgType missing"},
		{"msgcontent-text-number.json", "MsgBody", "element 0: MsgContent"},
		{"msgcontent-string.json", "MsgBody", "MsgContent: want an object"},
		{"eventtime-bool.json", "EventTime", "want an integer, got a boolean"},
		{"eventtime-garbage.json", "EventTime", "want an integer"},
		{"random-garbage.json", "Random", "want an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Parse(sendMsgException, readFile(t, filepath.Join("testdata/bad", tt.file)), Limits{})
			var be *BodyError
			if !errors.As(err, &be) {
				t.Fatalf("Parse error = %v, want a *BodyError", err)
			}
			if be.Field != tt.field || !strings.Contains(be.Msg, tt.msg) {
				t.Errorf("got field %q msg %q, want field %q msg containing %q", be.Field, be.Msg, tt.field, tt.msg)
			}
		})
	}
}

// Other commands are decoded leniently: a known field with an unexpected
// type is kept raw instead of failing the callback.
func TestParseLenientForOtherCommands(t *testing.T) {
	q := Query{AppID: 1, Command: "Group.CallbackAfterSendMsg"}
	ev, err := Parse(q, []byte(`{"GroupId":12345,"Type":"Public","EventTime":"x"}`), Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if ev.Present.Has(FieldGroupID) || string(ev.Extra["GroupId"]) != "12345" {
		t.Errorf("GroupId: present=%v extra=%s, want kept raw in Extra", ev.Present.Has(FieldGroupID), ev.Extra["GroupId"])
	}
	if ev.GroupType != "Public" {
		t.Errorf("GroupType = %q", ev.GroupType)
	}
}

// A body over a count limit is cut, never refused: IM does not resend a
// refused callback, so a refusal is an alert lost. What was cut is counted.
func TestParseCutsOverLimits(t *testing.T) {
	elems := func(n int) string {
		return strings.TrimSuffix(strings.Repeat(`{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}},`, n), ",")
	}
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	other := Query{AppID: 1, Command: "Group.CallbackAfterSendMsg"}
	tests := []struct {
		name      string
		q         Query
		body      string
		lim       Limits
		elements  int // len(MsgBody) kept
		leftOut   LeftOut
		wantExtra []string
	}{
		{"elements over the limit", sendMsgException, `{"ErrorCode":10023,"MsgBody":[` + elems(301) + `]}`, Limits{}, 256, LeftOut{Elements: 45}, nil},
		{"elements in another command", other, `{"MsgBody":[` + elems(10) + `]}`, Limits{MaxElements: 4}, 4, LeftOut{Elements: 6}, nil},
		{"elements past the limit are not inspected", sendMsgException, `{"MsgBody":[` + elems(2) + `,1,"x",{"MsgContent":"y"}]}`, Limits{MaxElements: 2}, 2, LeftOut{Elements: 3}, nil},
		{"deep unknown field", sendMsgException, `{"ErrorCode":10023,"Deep":` + deep + `,"Flat":1}`, Limits{}, 0, LeftOut{Fields: 1}, []string{"Flat"}},
		{"deep element", sendMsgException, `{"MsgBody":[` + elems(1) + `,{"MsgType":"TIMCustomElem","MsgContent":{"Data":"d","X":` + deep + `}}]}`, Limits{}, 1, LeftOut{Elements: 1}, nil},
		{"brackets in strings do not count", sendMsgException, `{"Text":"` + strings.Repeat("[{", 100) + `"}`, Limits{}, 0, LeftOut{}, []string{"Text"}},
		{"fields over the limit, by name", other, `{"GroupId":"g","Zed":1,"Bee":2,"Ant":3,"Cat":4}`, Limits{MaxFields: 3}, 0, LeftOut{Fields: 2}, []string{"Ant", "Bee"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse(tt.q, []byte(tt.body), tt.lim)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(ev.MsgBody) != tt.elements || ev.LeftOut != tt.leftOut {
				t.Errorf("kept %d elements, left out %+v; want %d, %+v", len(ev.MsgBody), ev.LeftOut, tt.elements, tt.leftOut)
			}
			var extra []string
			for k := range ev.Extra {
				extra = append(extra, k)
			}
			slices.Sort(extra)
			if diff := cmp.Diff(tt.wantExtra, extra); diff != "" {
				t.Errorf("Extra (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Parse(sendMsgException, []byte("   "), Limits{}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("blank body: err = %v, want empty", err)
	}
}

// A JSON null is an absent field, wherever it appears: a valid callback is
// not refused for it, even under the exception callback's strict types.
func TestParseNullIsAbsent(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		present Fields
		check   func(*Event) bool
	}{
		{"every typed field null", `{"CallbackCommand":null,"GroupId":null,"Type":null,"From_Account":null,"Operator_Account":null,"Random":null,` +
			`"OnlineOnlyFlag":null,"MsgBody":null,"CloudCustomData":null,"ErrorCode":null,"ErrorInfo":null,"EventTime":null}`, 0,
			func(e *Event) bool { return e.Extra == nil && e.MsgBody == nil }},
		{"unknown field null", `{"ErrorCode":10023,"TopicId":null}`, FieldErrorCode,
			func(e *Event) bool { _, ok := e.Field("TopicId"); return !ok }},
		{"null element", `{"MsgBody":[null,{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi"}}]}`, FieldMsgBody,
			func(e *Event) bool { return len(e.MsgBody) == 1 && e.MsgBody[0].Content.Text == "hi" }},
		{"null content and inner fields", `{"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":null},{"MsgType":"TIMImageElem","MsgContent":{"UUID":null,"ImageFormat":null,"ImageInfoArray":null}}]}`, FieldMsgBody,
			func(e *Event) bool { return len(e.MsgBody) == 2 && e.Excerpt() == "[image]" }},
		{"null relay list entries", `{"MsgBody":[{"MsgType":"TIMRelayElem","MsgContent":{"Title":"t","AbstractList":[null,"a"],"MsgNum":null}}]}`, FieldMsgBody,
			func(e *Event) bool { return len(e.MsgBody[0].Content.AbstractList) == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse(sendMsgException, []byte(tt.body), Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if ev.Present != tt.present || !tt.check(ev) {
				t.Errorf("Present = %b, want %b; event %+v", ev.Present, tt.present, ev)
			}
		})
	}
}

func TestTimeSecondsFallback(t *testing.T) {
	ev := &Event{EventTime: 1670574414}
	if got := ev.Time(); got.Year() != 2022 {
		t.Errorf("seconds EventTime read as %v", got)
	}
	if got := (&Event{}).Time(); !got.IsZero() {
		t.Errorf("absent EventTime = %v, want zero", got)
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name  string
		query string
		param string // "" for success
		want  Query
	}{
		{"full", "SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=json&ClientIP=1.2.3.4&OptPlatform=RESTAPI",
			"", Query{AppID: 1400000000, Command: CommandSendMsgException, ContentType: "json", ClientIP: "1.2.3.4", OptPlatform: "RESTAPI"}},
		{"order and case of contenttype", "OptPlatform=iOS&contenttype=JSON&CallbackCommand=State.StateChange&SdkAppid=7",
			"", Query{AppID: 7, Command: "State.StateChange", ContentType: "json", OptPlatform: "iOS"}},
		{"signed", "SdkAppid=1&CallbackCommand=C2C.CallbackAfterSendMsg&Sign=abc&RequestTime=1669872112",
			"", Query{AppID: 1, Command: "C2C.CallbackAfterSendMsg", Sign: "abc", RequestTime: "1669872112"}},
		{"lower-case names", "sdkappid=1&callbackcommand=X.Y", "", Query{AppID: 1, Command: "X.Y"}},
		{"missing app", "CallbackCommand=X.Y", "SdkAppid", Query{}},
		// Which of two values counts must not depend on map order: refused.
		{"app twice", "SdkAppid=1&SdkAppid=2&CallbackCommand=X.Y", "SdkAppid", Query{}},
		{"app in two spellings", "sdkappid=1&SDKAPPID=2&CallbackCommand=X.Y", "SdkAppid", Query{}},
		{"command in two spellings", "SdkAppid=1&CallbackCommand=X.Y&callbackcommand=Group.CallbackSendMsgException", "CallbackCommand", Query{}},
		{"sign twice", "SdkAppid=1&CallbackCommand=X.Y&Sign=a&sign=b", "Sign", Query{}},
		{"non-numeric app", "SdkAppid=abc&CallbackCommand=X.Y", "SdkAppid", Query{}},
		{"zero app", "SdkAppid=0&CallbackCommand=X.Y", "SdkAppid", Query{}},
		{"negative app", "SdkAppid=-1&CallbackCommand=X.Y", "SdkAppid", Query{}},
		{"missing command", "SdkAppid=1", "CallbackCommand", Query{}},
		{"command with markup", "SdkAppid=1&CallbackCommand=%3C!channel%3E", "CallbackCommand", Query{}},
		{"long command", "SdkAppid=1&CallbackCommand=" + strings.Repeat("A", 200), "CallbackCommand", Query{}},
		{"xml content type", "SdkAppid=1&CallbackCommand=X.Y&contenttype=xml", "contenttype", Query{}},
		{"long client ip", "SdkAppid=1&CallbackCommand=X.Y&ClientIP=" + strings.Repeat("9", 300), "ClientIP", Query{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.query)
			got, err := ParseQuery(v)
			if tt.param != "" {
				var qe *QueryError
				if !errors.As(err, &qe) || qe.Param != tt.param {
					t.Fatalf("err = %v, want QueryError for %s", err, tt.param)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The text limit holds for every string of a message.
func TestParseLimitsEveryCommand(t *testing.T) {
	longType := `{"GroupId":"g","MsgBody":[{"MsgType":"` + strings.Repeat("A", 5000) + `","MsgContent":{}}]}`
	ev, err := Parse(sendMsgException, []byte(longType), Limits{MaxTextBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ev.MsgBody[0].Type); n > 1024 || !ev.Truncated {
		t.Errorf("MsgType kept at %d bytes (truncated %v), want at most 1024", n, ev.Truncated)
	}
}

// Odd but valid bodies are accepted: nothing a producer may send as JSON
// is refused for its shape, since IM does not resend a refused callback.
func TestParseOddButValid(t *testing.T) {
	tests := []struct {
		file    string
		check   func(*Event) bool
		leftOut LeftOut
	}{
		{"bom.json", func(e *Event) bool { return e.GroupID == "x" }, LeftOut{}},
		{"nulls.json", func(e *Event) bool {
			return e.ErrorCode == 10023 && e.Present == FieldGroupID|FieldFromAccount|FieldMsgBody|FieldErrorCode && len(e.MsgBody) == 2 && e.Extra == nil
		}, LeftOut{}},
		{"float-integers.json", func(e *Event) bool {
			return e.ErrorCode == 10023 && e.EventTime == 1670574414123 && e.Random == 42 && e.Present.Has(FieldOnlineOnlyFlag) && e.MsgBody[0].Content.Index == 1
		}, LeftOut{}},
		{"many-elements.json", func(e *Event) bool { return len(e.MsgBody) == 256 }, LeftOut{Elements: 44}},
		{"many-fields.json", func(e *Event) bool {
			_, first := e.Extra["F000"]
			_, last := e.Extra["F299"]
			return e.ErrorCode == 10023 && len(e.Extra) == 254 && first && !last
		}, LeftOut{Fields: 46}},
		{"deep-unknown.json", func(e *Event) bool {
			v, _ := e.Field("Flat")
			_, deep := e.Extra["Nested"]
			return v == "kept" && !deep
		}, LeftOut{Fields: 1}},
		{"escaped-keys.json", func(e *Event) bool { return e.GroupID == "@TGS#1" && e.Excerpt() == "😀 <!channel>" }, LeftOut{}},
		{"duplicate-keys.json", func(e *Event) bool { return e.ErrorCode == 10023 }, LeftOut{}},
		{"empty-object.json", func(e *Event) bool { return e.Present == 0 }, LeftOut{}},
		{"empty-msgbody.json", func(e *Event) bool { return e.Present.Has(FieldMsgBody) && len(e.MsgBody) == 0 }, LeftOut{}},
		{"odd-elements.json", func(e *Event) bool {
			return len(e.MsgBody) == 5 && e.Excerpt() == "hi [TIMFutureElem] [TIMFutureElem] [TIMFutureElem2] [face: 7]" &&
				string(e.MsgBody[1].Raw) == `"opaque"`
		}, LeftOut{}},
		{"php-empty.json", func(e *Event) bool {
			return len(e.MsgBody) == 2 && e.MsgBody[0].Content.Text == "" && e.MsgBody[1].Content.UUID == "u" && string(e.Extra["Extra"]) == "{}"
		}, LeftOut{}},
		{"php-empty-msgbody.json", func(e *Event) bool { return e.Present.Has(FieldMsgBody) && len(e.MsgBody) == 0 }, LeftOut{}},
		{"whitespace.json", func(e *Event) bool { return e.GroupID == "@TGS#1" && e.ErrorCode == 10023 }, LeftOut{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := Parse(sendMsgException, readFile(t, filepath.Join("testdata/good", tt.file)), Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tt.check(ev) || ev.LeftOut != tt.leftOut {
				t.Errorf("got %+v", ev)
			}
		})
	}
}

// The journal keeps a callback's query without its signature, and
// everything else as received.
func TestWithoutSign(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SdkAppid=1&CallbackCommand=Group.CallbackSendMsgException&Sign=abc&RequestTime=1700000000", "SdkAppid=1&CallbackCommand=Group.CallbackSendMsgException&RequestTime=1700000000"},
		{"Sign=abc&SdkAppid=1", "SdkAppid=1"},
		{"SdkAppid=1&Sign=abc", "SdkAppid=1"},
		{"Sign=abc", ""},
		{"SdkAppid=1&Sign=a&Sign=b&RequestTime=2", "SdkAppid=1&RequestTime=2"},
		{"SdkAppid=1&%53ign=abc&RequestTime=2", "SdkAppid=1&RequestTime=2"},
		{"SdkAppid=1&%53%69gn=abc", "SdkAppid=1"},
		{"SdkAppid=1&Signature=x&sign=y&Sign", "SdkAppid=1&Signature=x&sign=y"},
		{"SdkAppid=1&&ClientIP=10.0.0.1", "SdkAppid=1&&ClientIP=10.0.0.1"},
		{"SdkAppid=1&Text=%E4%BD%A0", "SdkAppid=1&Text=%E4%BD%A0"},
		{"", ""},
	} {
		if got := WithoutSign(tc.in); got != tc.want {
			t.Errorf("WithoutSign(%q) = %q, want %q", tc.in, got, tc.want)
		}
		q, err := url.ParseQuery(WithoutSign(tc.in))
		if err == nil && q.Has("Sign") {
			t.Errorf("WithoutSign(%q) still parses with a Sign", tc.in)
		}
	}
}
