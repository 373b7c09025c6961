package ui_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/mute"
	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/alert/trace"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/testutil"
	"github.com/imalert/imalert/rules/rulestest"
	"github.com/imalert/imalert/server"
	"github.com/imalert/imalert/server/ui"
	"github.com/imalert/imalert/store"
)

const (
	token     = "ui-test-admin-token"
	sendQuery = "SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=json&OptPlatform=RESTAPI"
	// hostileGroup would run script if a page put it in the markup raw.
	hostileGroup = `<img src=x onerror=alert(1)>`
)

const uiRules = `rules:
  - name: rate-limit
    match: {error_code: 10023}
    group_by: [GroupId]
    throttle: 10m
    receivers: [ops-slack, ops-mail]
  - name: content-filter
    match: {error_code: [80001, 80004]}
    group_by: [GroupId]
    threshold: {count: 3, within: 5m}
    receivers: [ops-slack]
`

type rig struct {
	st       *store.Store
	srv      *httptest.Server
	now      time.Time
	dead     string // id of a dead letter
	p        *alert.Pipeline
	silences *silence.Set
	signer   *mute.Signer
}

// process journals raws and runs the pipeline over them.
func (r *rig) process(t *testing.T, raws ...callback.Raw) {
	t.Helper()
	if err := r.p.Ingest(context.Background(), raws, nil); err != nil {
		t.Fatal(err)
	}
	r.p.Run(context.Background()) // stopped: processes what is journaled, then returns
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.ModuleRoot(t), "callback", "testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newRig runs a store and a pipeline over a few events (the hostile
// sample, a hostile group id, a content-filter event), leaves one dead
// letter, and serves the UI behind the admin token.
func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigWith(t, token)
}

// newRigWith is newRig with another admin token; "" leaves it open.
func newRigWith(t *testing.T, adminToken string) *rig {
	t.Helper()
	return newRigShared(t, adminToken, nil)
}

// newRigShared is newRigWith with silences shared through shared (nil:
// none).
func newRigShared(t *testing.T, adminToken string, shared silence.Shared) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	hostile := sample(t, "send-msg-exception.hostile-text.json")
	raws := []callback.Raw{
		{Query: sendQuery, Body: sample(t, "send-msg-exception.doc-sample.json"), ReceivedAt: now.Add(-9 * time.Minute)},
		{Query: sendQuery, Body: hostile, ReceivedAt: now.Add(-8 * time.Minute)},
		{Query: sendQuery, Body: bytes.Replace(hostile, []byte(`"@TGS#2J4SZEAEL"`), []byte(`"`+hostileGroup+`"`), 1), ReceivedAt: now.Add(-7 * time.Minute)},
		{Query: sendQuery, Body: sample(t, "send-msg-exception.content-filter.json"), ReceivedAt: now.Add(-6 * time.Minute)},
	}
	stats := trace.NewStats()
	silences, err := silence.Open(ctx, silence.Options{Store: st, Shared: shared})
	if err != nil {
		t.Fatal(err)
	}
	key, err := st.Key(ctx, mute.KeyName)
	if err != nil {
		t.Fatal(err)
	}
	signer := mute.NewSigner(key)
	// The server's address is known before it serves: pages link to it.
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	p := alert.NewPipeline(alert.PipelineOptions{Rules: rulestest.Compile(t, uiRules, "ops-slack", "ops-mail"), Store: st, Observer: stats,
		Silences: silences, Mute: signer, ExternalURL: "http://" + srv.Listener.Addr().String()})
	for _, r := range raws {
		if err := p.Ingest(ctx, []callback.Raw{r}, nil); err != nil {
			t.Fatal(err)
		}
	}
	p.Stop()
	p.Run(ctx)
	pending, err := st.Deliveries(ctx, store.Filter{State: store.Pending, Receiver: "ops-mail"})
	if err != nil || len(pending) == 0 {
		t.Fatalf("pending = %v, %v", pending, err)
	}
	d := pending[len(pending)-1]
	if err := st.Attempt(ctx, d.Seq, now.Add(-5*time.Minute), "smtp: 451 try again <b>later</b>"); err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx, store.Outcome{Seq: d.Seq, State: store.Dead, At: now.Add(-4 * time.Minute), Attempted: true, Error: "smtp: 550 mailbox unavailable"}); err != nil {
		t.Fatal(err)
	}
	// ops-slack has a budget with a period open and spent; ops-mail has none.
	if err := st.StartBudget(ctx, "ops-slack", now.Add(-5*time.Second)); err != nil {
		t.Fatal(err)
	}
	u := ui.New(ui.Options{Token: adminToken, Store: st, Trace: trace.NewReader(st, p.Rules, callback.Limits{}), Pipeline: p,
		Stats: stats, Receivers: map[string]bool{"ops-slack": true, "ops-mail": true}, Now: func() time.Time { return now },
		Silences: silences, Mute: signer, Budgets: map[string]config.Budget{"ops-slack": {Pages: 5, Per: 20 * time.Second}, "ops-mail": {}}})
	s := server.New(server.Options{Registerer: prometheus.NewRegistry(), CallbackPath: "/callback", Apps: []uint64{1400000000},
		AdminToken: adminToken, UI: u})
	srv.Config.Handler = s.AdminHandler()
	srv.Start()
	return &rig{st: st, srv: srv, now: now, dead: d.ID, p: p, silences: silences, signer: signer}
}
