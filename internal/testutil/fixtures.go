package testutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/imalert/imalert/callback"
)

// SampleTime is when SampleEvent's events are received.
var SampleTime = time.Date(2026, 11, 25, 14, 3, 7, 0, time.UTC)

// SampleEvent parses callback/testdata/samples/NAME as a
// Group.CallbackSendMsgException of SdkAppid 1400000000 sent through the
// REST API from 10.0.0.1, received at SampleTime.
func SampleEvent(t testing.TB, name string) *callback.Event {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(ModuleRoot(t), "callback", "testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	q := callback.Query{AppID: 1400000000, Command: callback.CommandSendMsgException, ClientIP: "10.0.0.1", OptPlatform: "RESTAPI"}
	ev, err := callback.Parse(q, body, callback.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ev.ReceivedAt = SampleTime
	return ev
}
