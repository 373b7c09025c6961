package page

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
)

// A storm page is one compact table: what the budget held, by rule and
// error code, the top groups and senders, and the period.
func TestStormPage(t *testing.T) {
	start := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	s := &notify.Storm{Start: start, End: start.Add(20 * time.Second), Pages: 5, Per: 20 * time.Second, Sent: 5, Held: 35, Events: 41,
		ByRule: map[string]int{"rate": 30, "filter": 5}, Digest: notify.NewDigest(start, 20*time.Second)}
	for i := range 35 {
		code := int64(10023)
		if i >= 30 {
			code = 80001
		}
		s.Digest.Add(&callback.Event{GroupID: "@TGS#" + string(rune('A'+i%7)), FromAccount: "u<script>", ErrorCode: code, Present: callback.FieldErrorCode})
	}
	p := Build(&notify.Notification{Rule: "(budget)", Severity: "warning", Storm: s})
	if want := "35 pages held (41 events) over the budget of 5 per 20s; 5 sent (20:00:00 UTC – 20:00:20 UTC)"; p.Headline != want {
		t.Errorf("headline %q\nwant     %q", p.Headline, want)
	}
	if p.Subject != "[imalert][storm] 35 pages held, 41 events, 20:00:00 UTC – 20:00:20 UTC" {
		t.Errorf("subject %q", p.Subject)
	}
	want := []Field{
		{"Rules", "rate ×30\nfilter ×5"},
		{"Error codes", "10023 ×30\n80001 ×5"},
		{"Top groups", "@TGS#A ×5\n@TGS#B ×5\n@TGS#C ×5\n@TGS#D ×5\n@TGS#E ×5\nothers ×10"},
		{"Top senders", "u<script> ×35"},
		{"Period", "2026-11-25 20:00:00.000 UTC – 2026-11-25 20:00:20.000 UTC"},
	}
	if d := cmp.Diff(want, p.Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
	if text := Render(p); !strings.HasPrefix(text, "PAGE [warning] storm: 35 pages held") {
		t.Errorf("console page:\n%s", text)
	}
}

// A page sent inside a budget period says which page of it it is.
func TestBudgetFooter(t *testing.T) {
	ev := &callback.Event{Command: callback.CommandSendMsgException, GroupID: "g", ErrorCode: 10023, Present: callback.FieldErrorCode}
	for _, tt := range []struct {
		n    int
		want string
	}{{3, "page 3 of 5 in this 20s budget period"}, {5, "page 5 of 5 in this 20s budget period: further pages are held until its storm page"}} {
		p := Build(&notify.Notification{Rule: "r", Severity: "warning", Event: ev, Budget: &notify.BudgetPage{N: tt.n, Pages: 5, Per: 20 * time.Second}})
		if !strings.Contains(strings.Join(p.Footer, " · "), tt.want) {
			t.Errorf("footer %q lacks %q", p.Footer, tt.want)
		}
	}
}
