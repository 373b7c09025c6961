package page

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
)

// A digest page: counts by error code and group type, the top five groups
// and senders with the events of all others, the window; hostile names are
// cleaned.
func TestDigestPage(t *testing.T) {
	start := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	d := notify.NewDigest(start, 10*time.Minute)
	add := func(n int, group, from string, code int64, gt string) {
		for range n {
			d.Add(&callback.Event{GroupID: group, FromAccount: from, ErrorCode: code, GroupType: gt, Present: callback.FieldErrorCode})
		}
	}
	add(5, "@TGS#1", "jared", 10023, "Public")
	add(3, "@TGS#2", "amy", 10023, "AVChatRoom")
	add(2, "@TGS#3", "bob\nSubject: x", 10016, "Public")
	for i := range 4 {
		add(1, fmt.Sprint("@TGS#x", i), "zed", 10023, "Work")
	}
	p := Build(&notify.Notification{Rule: "storm", Severity: "info", RuleFile: "rules/im.yaml", RuleLine: 7, Digest: d, Merged: 1})
	if p.Title != "🔵 info · storm digest" || p.Headline != "14 events in 10m (14:00:00 UTC – 14:10:00 UTC)" {
		t.Errorf("title %q headline %q", p.Title, p.Headline)
	}
	if p.Subject != "[imalert][info] storm digest: 14 events" {
		t.Errorf("subject %q", p.Subject)
	}
	want := []Field{
		{"Error codes", "10023 ×12\n10016 ×2"},
		{"Group types", "Public ×7\nPrivate ×4\nAVChatRoom ×3"},
		{"Top groups", "@TGS#1 ×5\n@TGS#2 ×3\n@TGS#3 ×2\n@TGS#x0 ×1\n@TGS#x1 ×1\nothers ×2"},
		{"Top senders", "jared ×5\nzed ×4\namy ×3\nbob Subject: x ×2"},
		{"Window", "2026-11-25 14:00:00.000 UTC – 2026-11-25 14:10:00.000 UTC"},
	}
	if diff := cmp.Diff(want, p.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1 later digest merged in while delivery was delayed", "rules/im.yaml:7"}, p.Footer); diff != "" {
		t.Errorf("footer (-want +got):\n%s", diff)
	}
}
