package botpost

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imalert/imalert/alert/notify"
)

func TestStatusError(t *testing.T) {
	for _, tt := range []struct {
		status    int
		ok        bool
		retryable bool
	}{
		{200, true, false}, {204, true, false},
		{408, false, true}, {429, false, true}, {500, false, true}, {503, false, true},
		{400, false, false}, {403, false, false}, {404, false, false},
	} {
		err := StatusError("wecom", tt.status)
		if (err == nil) != tt.ok {
			t.Errorf("%d: error %v, want ok=%v", tt.status, err, tt.ok)
			continue
		}
		if err == nil {
			continue
		}
		var de *notify.DeliveryError
		if !errors.As(err, &de) || de.Retryable != tt.retryable || !strings.Contains(err.Error(), "wecom: HTTP ") {
			t.Errorf("%d: %#v, want retryable=%v", tt.status, err, tt.retryable)
		}
	}
}

// A failed post names the robot, never the URL: its key or token is the
// secret.
func TestPostKeepsTheURLOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		_, _ = w.Write([]byte(`{"errcode":0}`))
	}))
	status, answer, err := Post(context.Background(), srv.Client(), "wecom", srv.URL+"/send?key=s3cret", []byte(`{}`))
	if err != nil || status != 200 || string(answer) != `{"errcode":0}` {
		t.Fatalf("post: %d %q %v", status, answer, err)
	}
	srv.Close()
	_, _, err = Post(context.Background(), http.DefaultClient, "wecom", srv.URL+"/send?key=s3cret", []byte(`{}`))
	var de *notify.DeliveryError
	if !errors.As(err, &de) || !de.Retryable || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("post to a closed server: %v, want a retryable error without the key", err)
	}
	_, _, err = Post(context.Background(), http.DefaultClient, "wecom", "://bad?key=s3cret", nil)
	if !errors.As(err, &de) || de.Retryable || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL: %v, want a final error without the key", err)
	}
}
