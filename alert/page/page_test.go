package page

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
)

func TestClean(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"line\r\nSubject: x", 50, "line Subject: x"},
		{"  lead\t\ttabs  ", 50, "lead tabs"},
		{"bidi\u202Eevil\u202C end", 50, "bidi evil end"},
		{"zero\u200Bwidth", 50, "zero width"},
		{"bad \xff\xfe utf8", 50, "bad \uFFFD\uFFFD utf8"},
		{"abcdefghij", 5, "abcd…"},
		{"abcde", 5, "abcde"},
		{"日本語のテキスト", 4, "日本語…"},
		{"", 5, ""},
	}
	for _, tt := range tests {
		got := Clean(tt.in, tt.max)
		if got != tt.want {
			t.Errorf("Clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > tt.max {
			t.Errorf("Clean(%q, %d) = %q: invalid or too long", tt.in, tt.max, got)
		}
	}
}

func TestTruncateNeverSplitsRunes(t *testing.T) {
	s := strings.Repeat("é😀", 100)
	for max := 1; max < 50; max++ {
		got := Truncate(s, max)
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) != max || !strings.HasSuffix(got, "…") {
			t.Fatalf("Truncate(_, %d) = %q", max, got)
		}
	}
}

func TestSlackEscape(t *testing.T) {
	got := Slack("<!channel> & <@U0123> <http://evil.example|click>")
	want := "&lt;!channel&gt; &amp; &lt;@U0123&gt; &lt;http://evil.example|click&gt;"
	if got != want {
		t.Errorf("Slack() = %q, want %q", got, want)
	}
}

// A page says how much of the callback's body the limits left out.
func TestBuildLeftOut(t *testing.T) {
	elem := `{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}`
	q := callback.Query{AppID: 1400000000, Command: callback.CommandSendMsgException}
	for _, tt := range []struct {
		elems int
		want  string
	}{{3, ""}, {4, "1 message element left out"}, {10, "7 message elements left out"}} {
		body := `{"GroupId":"@TGS#1","ErrorCode":10023,"MsgBody":[` + strings.TrimSuffix(strings.Repeat(elem+",", tt.elems), ",") + `]}`
		ev, err := callback.Parse(q, []byte(body), callback.Limits{MaxElements: 3})
		if err != nil {
			t.Fatal(err)
		}
		footer := strings.Join(Build(&notify.Notification{Rule: "r", Severity: "warning", Event: ev}).Footer, " · ")
		if got := strings.Contains(footer, "left out"); got != (tt.want != "") || !strings.Contains(footer, tt.want) {
			t.Errorf("%d elements: footer %q, want %q", tt.elems, footer, tt.want)
		}
	}
}

// A page says when the callback's text was cut before the rules saw it.
func TestBuildTruncatedEvent(t *testing.T) {
	body := `{"GroupId":"@TGS#1","ErrorCode":80002,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"` + strings.Repeat("x", 5000) + `"}}]}`
	q := callback.Query{AppID: 1400000000, Command: callback.CommandSendMsgException}
	for _, tt := range []struct {
		max  int
		want bool
	}{{1024, true}, {1 << 14, false}} {
		ev, err := callback.Parse(q, []byte(body), callback.Limits{MaxTextBytes: tt.max})
		if err != nil {
			t.Fatal(err)
		}
		p := Build(&notify.Notification{Rule: "r", Severity: "warning", Event: ev})
		got := strings.Contains(strings.Join(p.Footer, " · "), "cut to callback.limits.max_text_bytes")
		if got != tt.want {
			t.Errorf("max_text_bytes %d: footer %q, want the truncation line: %v", tt.max, p.Footer, tt.want)
		}
	}
}
