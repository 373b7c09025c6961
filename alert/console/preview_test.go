package console

import (
	"bytes"
	"context"
	"testing"

	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
)

// The preview is the text Notify prints, as one unlabelled value.
func TestPreviewIsWhatIsPrinted(t *testing.T) {
	ev := &callback.Event{Command: callback.CommandSendMsgException, GroupID: "@TGS#1", ErrorCode: 10023}
	ev.Present |= callback.FieldErrorCode
	n := &notify.Notification{Receiver: "console", Rule: "r", Severity: "warning", GroupKey: `GroupId="@TGS#1"`, Event: ev}
	var out bytes.Buffer
	c := New(&out)
	if err := c.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	got := c.Preview(n)
	if len(got) != 1 || got[0].Label != "" || got[0].Value+"\n" != out.String() {
		t.Errorf("preview %q, printed %q", got, out.String())
	}
}
