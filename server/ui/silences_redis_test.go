package ui_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert/state/redisstate"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/internal/yamlfile"
)

// With silences shared through Redis, the form cannot make a silence nor
// the Expire button end one while Redis does not answer: 503 with
// Retry-After and a sentence that says why, and nothing changes.
func TestSilenceFormRedisDown(t *testing.T) {
	srv := testutil.StartRedis(t)
	c := config.State{Backend: config.StateRedis, Redis: config.Redis{Addr: srv.Addr, KeyPrefix: "t:", Timeout: yamlfile.Duration(time.Second)}}
	states, closeFn, err := redisstate.Open(context.Background(), c, redisstate.Options{Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	r := newRigShared(t, token, redisstate.SharedSilences(states))
	b := newClient(t, r.srv.URL)
	b.login()
	form := url.Values{"matchers": {"error_code: 10023\n"}, "duration": {"1h"}, "author": {"ana"}, "comment": {"storm"}}
	if resp, body := b.post("/ui/silences", form); resp.StatusCode != 303 {
		t.Fatalf("form with Redis up: %d %s", resp.StatusCode, body)
	}
	made := r.silences.List()
	if len(made) != 1 {
		t.Fatalf("%d silences, want 1", len(made))
	}

	srv.Stop()
	for _, req := range []struct{ path, done string }{
		{"/ui/silences", "made"},
		{"/ui/silences/" + made[0].ID + "/expire", "expired"},
	} {
		resp, body := b.post(req.path, form)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "was not "+req.done) || !strings.Contains(body, "Redis") {
			t.Errorf("POST %s with Redis down: %d %q, want 503 saying why", req.path, resp.StatusCode, body)
		}
	}
	if l := r.silences.List(); len(l) != 1 || l[0].State != "active" {
		t.Errorf("silences after the refusals: %+v, want the one made, still active", l)
	}
}
