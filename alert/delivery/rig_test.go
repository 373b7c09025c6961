package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imalert/imalert/alert"
	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/rules"
	"github.com/imalert/imalert/store"
)

// rig is a pipeline and a dispatcher on a fresh store, as serve wires them.
type rig struct {
	t      *testing.T
	st     *store.Store
	reg    *prometheus.Registry
	p      *alert.Pipeline
	d      *delivery.Dispatcher
	cancel context.CancelFunc
	done   chan struct{}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir(), Sync: store.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func newRig(t *testing.T, ruleSrc string, dests ...delivery.Destination) *rig {
	t.Helper()
	return newRigOn(t, openStore(t), ruleSrc, dests...)
}

func newRigOn(t *testing.T, st *store.Store, ruleSrc string, dests ...delivery.Destination) *rig {
	t.Helper()
	return newRigWith(t, st, ruleSrc, nil, dests...)
}

// newRigWith is newRigOn with budgets shared through budgets (nil: none).
func newRigWith(t *testing.T, st *store.Store, ruleSrc string, budgets delivery.SharedBudgets, dests ...delivery.Destination) *rig {
	t.Helper()
	f, err := rules.ParseFile("rules.yaml", []byte(ruleSrc))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, d := range dests {
		names[d.Name] = true
	}
	engine, err := rules.Compile([]*rules.File{f}, rules.Options{Receivers: names})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	d := delivery.NewDispatcher(delivery.DispatcherOptions{Metrics: delivery.NewMetrics(reg), Store: st, Destinations: dests, FallbackCheck: 100 * time.Millisecond, Budgets: budgets})
	p := alert.NewPipeline(alert.PipelineOptions{Metrics: alert.NewMetrics(reg), Rules: engine, Store: st, Out: d})
	if err := p.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, st: st, reg: reg, p: p, d: d}
}

// start runs the pipeline and the dispatcher until the test ends.
func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.p.Run(ctx) }()
	go func() { defer wg.Done(); r.d.Run(ctx) }()
	go func() { wg.Wait(); close(r.done) }()
	r.t.Cleanup(r.stop)
}

func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

const sendQuery = "SdkAppid=1400000000&CallbackCommand=Group.CallbackSendMsgException&contenttype=json&OptPlatform=RESTAPI"

func (r *rig) ingest(code int, group string, seq int) {
	r.t.Helper()
	body := fmt.Appendf(nil, `{"GroupId":%q,"Type":"Public","From_Account":"u","ErrorCode":%d,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"seq=%d"}}]}`, group, code, seq)
	if err := r.p.Ingest(context.Background(), []callback.Raw{{Query: sendQuery, Body: body, ReceivedAt: time.Now()}}, nil); err != nil {
		r.t.Fatal(err)
	}
}

// metric sums the samples of a counter with the given labels.
func (r *rig) metric(name string, labels map[string]string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// states counts the receiver's outbox rows by state.
func (r *rig) states(receiver string) map[store.State]int {
	r.t.Helper()
	rows, err := r.st.Deliveries(context.Background(), store.Filter{Receiver: receiver, Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[store.State]int{}
	for _, n := range rows {
		out[n.State]++
	}
	return out
}

// settled reports whether the receiver's outbox holds exactly want, by
// state: once nothing is pending, no further attempt can come.
func (r *rig) settled(receiver string, want map[store.State]int) func() bool {
	return func() bool {
		got := r.states(receiver)
		if len(got) != len(want) {
			return false
		}
		for s, n := range want {
			if got[s] != n {
				return false
			}
		}
		return true
	}
}

// await advances the bubble's clock in small steps until cond holds, for
// at most limit of bubble time; it returns how long that took.
func await(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not so after %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// errHang, as a scripted result, makes an attempt wait until it is cut off.
var errHang = errors.New("hang")

// fake is a Notifier that records its attempts, on the clock of the test's
// bubble, and answers as scripted: the next scripted error, then success,
// or failing while down is set.
type fake struct {
	mu       sync.Mutex
	script   []error
	down     error
	latency  time.Duration // each attempt takes this long
	attempts []time.Time
	sent     []*notify.Notification
}

func (f *fake) Notify(ctx context.Context, n *notify.Notification) error {
	f.mu.Lock()
	f.attempts = append(f.attempts, time.Now())
	err := f.down
	if err == nil && len(f.script) > 0 {
		err, f.script = f.script[0], f.script[1:]
	}
	if err == nil {
		f.sent = append(f.sent, n)
	}
	latency := f.latency
	f.mu.Unlock()
	time.Sleep(latency)
	if err == errHang {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fake) fail(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = append(f.script, errs...)
}

func (f *fake) setDown(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = err
}

func (f *fake) delivered() []*notify.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*notify.Notification(nil), f.sent...)
}

func (f *fake) tries() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.attempts...)
}

func status(code int) error {
	err := fmt.Errorf("http %d", code)
	if code >= 500 {
		return notify.Retryable(fmt.Sprint("http_", code), err)
	}
	return notify.Permanent(fmt.Sprint("http_", code), err)
}

func dest(name string, n notify.Notifier, pace time.Duration, retry delivery.Retry, timeout time.Duration) delivery.Destination {
	return delivery.Destination{Name: name, Notifier: n, Pace: pace, Retry: retry, Timeout: timeout}
}
