package wecom

import (
	"errors"
	"testing"

	"github.com/imalert/imalert/alert/notify"
)

// The robot's answer is network input: any body and status is classified
// without panicking, as a DeliveryError, with a bounded wait; only a 2xx
// answer counts as delivered.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{`{"errcode":0,"errmsg":"ok"}`, `{"errcode":45009}`, `{"errcode":93000,"errmsg":"invalid webhook url"}`, `{"errcode":"0"}`, `{"errcode":1e99}`, `[]`, `null`, `<html>`} {
		f.Add(200, []byte(s))
		f.Add(400, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := classify(status, body)
		var de *notify.DeliveryError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("unclassified error %v", err)
		}
		if err == nil && (status < 200 || status > 299) {
			t.Fatalf("HTTP %d counted as delivered", status)
		}
		if de != nil && de.RetryAfter > notify.MaxRetryAfter {
			t.Fatalf("RetryAfter %v", de.RetryAfter)
		}
	})
}
