package feishu

import (
	"errors"
	"testing"

	"github.com/imalert/imalert/alert/notify"
)

// The robot's answer is network input: any body and status is classified
// without panicking, as a DeliveryError, with a bounded wait.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{`{"code":0,"msg":"success"}`, `{"StatusCode":0}`, `{"code":11232}`, `{"code":19021,"msg":"sign"}`, `{"code":null,"StatusCode":1}`, `{"code":-0}`, `[]`, `<html>`} {
		f.Add(200, []byte(s))
		f.Add(400, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := classify(status, body)
		var de *notify.DeliveryError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("unclassified error %v", err)
		}
		if de != nil && de.RetryAfter > notify.MaxRetryAfter {
			t.Fatalf("RetryAfter %v", de.RetryAfter)
		}
	})
}
