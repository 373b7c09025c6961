package callback

import (
	"testing"
)

// The field table is consistent: every name and alias is unique, every
// body field has a presence bit and a slot, and each field reads back
// what the decoder wrote.
func TestFieldTable(t *testing.T) {
	seen := map[string]string{}
	var bits Fields
	for _, s := range FieldSpecs() {
		for _, n := range append([]string{s.Name}, s.Aliases...) {
			if prev, dup := seen[n]; dup {
				t.Errorf("name %q used by %s and %s", n, prev, s.Name)
			}
			seen[n] = s.Name
		}
		switch s.Where {
		case InBody:
			if s.Bit == 0 || bits&s.Bit != 0 {
				t.Errorf("%s: presence bit %b missing or shared", s.Name, s.Bit)
			}
			bits |= s.Bit
			if (s.str == nil) == (s.num == nil) && s.Kind != KindElements {
				t.Errorf("%s: want exactly one slot", s.Name)
			}
		case InQuery:
			if s.query == nil {
				t.Errorf("%s: query field without a reader", s.Name)
			}
		case InElement:
			if s.elem == nil || s.Single() {
				t.Errorf("%s: per-element field without a reader", s.Name)
			}
		}
	}
	ev, err := Parse(sendMsgException, readFile(t, "testdata/samples/send-msg-exception.doc-sample.json"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		NameCallbackCommand: CommandSendMsgException, NameSdkAppid: "1400000000", NameClientIP: "10.0.0.1",
		NameOptPlatform: "RESTAPI", NameGroupID: "@TGS#2J4SZEAEL", NameType: "Public", NameFromAccount: "jared",
		NameOperatorAccount: "admin", NameRandom: "123456", NameOnlineOnlyFlag: "1",
		NameCloudCustomData: "your cloud custom data", NameErrorCode: "10023",
		NameErrorInfo: "msg count exceeds limit,please retry later", NameEventTime: "1670574414123",
	}
	for _, s := range FieldSpecs() {
		got, ok := ev.Field(s.Name)
		if w, single := want[s.Name]; single != s.Single() || got != w || ok != single {
			t.Errorf("Field(%s) = %q, %v; want %q, %v", s.Name, got, ok, w, single)
		}
		if spec, ok := LookupField(s.Aliases[0]); !ok || spec.Name != s.Name {
			t.Errorf("LookupField(%q) = %v, %v", s.Aliases[0], spec, ok)
		}
	}
	if v, ok := FieldSpecs()[0].Elem(&ev.MsgBody[0]); ok || v != "" {
		t.Errorf("Elem of a single-valued field = %q, %v", v, ok)
	}
	text, _ := LookupField("text")
	if v, ok := text.Elem(&ev.MsgBody[0]); !ok || v != "red packet" {
		t.Errorf("text.Elem = %q, %v", v, ok)
	}
}
