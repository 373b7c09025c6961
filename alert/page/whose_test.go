package page

import (
	"strings"
	"testing"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
)

// The title and the subject name the rule's group key, so that pages for
// different senders (or groups) of one rule read apart.
func TestPageSaysWhose(t *testing.T) {
	ev := &callback.Event{Command: callback.CommandSendMsgException, GroupID: "@TGS#1", FromAccount: "jared", ErrorCode: 10017}
	ev.Present |= callback.FieldErrorCode
	tests := []struct {
		name, key, title, subject string
	}{
		{"sender-keyed", `From_Account="jared"`, "· muted · sender jared", "[imalert][warning] 10017 muted for sender jared"},
		{"group-keyed", `GroupId="@TGS#1"`, "· muted · group @TGS#1", "[imalert][warning] 10017 muted for group @TGS#1"},
		{"both", `GroupId="@TGS#1" From_Account="jared"`, "· muted · group @TGS#1, sender jared", "10017 muted for group @TGS#1, sender jared"},
		{"other field", `ErrorCode="10017"`, "· muted · ErrorCode 10017", "10017 muted for ErrorCode 10017"},
		{"empty value", `From_Account=""`, "· muted · sender (none)", "muted for sender (none)"},
		{"no group_by names the group", "", "🟠 warning · muted", "[imalert][warning] 10017 muted in @TGS#1"},
		{"hostile value is cleaned", `From_Account="a\r\nBcc: x"`, "· muted · sender a Bcc: x", "muted for sender a Bcc: x"},
		{"unreadable key names nothing", `From_Account=jared`, "🟠 warning · muted", "10017 muted in @TGS#1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &notify.Notification{Rule: "muted", Severity: "warning", GroupKey: tt.key, Event: ev}
			p := Build(n)
			if !strings.HasSuffix(p.Title, tt.title) {
				t.Errorf("title %q, want it to end in %q", p.Title, tt.title)
			}
			if !strings.Contains(p.Subject, tt.subject) {
				t.Errorf("subject %q, want it to hold %q", p.Subject, tt.subject)
			}
			if strings.ContainsAny(p.Subject, "\r\n") {
				t.Errorf("subject %q holds a line break", p.Subject)
			}
		})
	}
}

// Two senders of one rule get different subjects.
func TestSubjectsTellSendersApart(t *testing.T) {
	subjects := map[string]bool{}
	for _, who := range []string{"alice", "bob"} {
		ev := &callback.Event{Command: callback.CommandSendMsgException, GroupID: "@TGS#1", FromAccount: who}
		p := Build(&notify.Notification{Rule: "muted", Severity: "warning", GroupKey: `From_Account="` + who + `"`, Event: ev})
		subjects[p.Subject] = true
	}
	if len(subjects) != 2 {
		t.Errorf("two senders share a subject: %v", subjects)
	}
}
