package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imalert/imalert/callback"
)

// appID is the IM app of the generated traffic and config.
const appID = 1400000000

// mix generates signed callbacks: 80% Group.CallbackSendMsgException with
// 10023 across the groups and senders, 12% the same command with other
// codes, 8% other commands. Every request is a new event (its Random is
// unique), so none is de-duplicated.
type mix struct {
	groups, senders int
	token           string
	seq             atomic.Int64

	mu       sync.Mutex
	signedAt int64
	sign     string
}

var otherCodes = []int{10017, 80001, 80004, 10016, 10007, 10010}

var otherCommands = []string{
	"Group.CallbackAfterSendMsg", "Group.CallbackAfterNewMemberJoin", "Group.CallbackAfterMemberExit",
	"State.StateChange", "C2C.CallbackAfterSendMsg",
}

// signature returns RequestTime and Sign for now, computed once a second.
func (m *mix) signature(now time.Time) (string, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sec := now.Unix(); sec != m.signedAt {
		m.signedAt, m.sign = sec, callback.Sign(m.token, strconv.FormatInt(sec, 10))
	}
	return strconv.FormatInt(m.signedAt, 10), m.sign
}

// next returns the query string and body of one request.
func (m *mix) next(r *rand.Rand, now time.Time) (string, []byte) {
	n := m.seq.Add(1)
	group := fmt.Sprintf("@TGS#g%04d", r.IntN(m.groups))
	sender := fmt.Sprintf("u%05d", r.IntN(m.senders))
	ms := now.UnixMilli()
	command := callback.CommandSendMsgException
	var body []byte
	switch p := r.IntN(100); {
	case p < 92:
		code := 10023
		if p >= 80 {
			code = otherCodes[r.IntN(len(otherCodes))]
		}
		body = fmt.Appendf(nil, `{"CallbackCommand":%q,"GroupId":%q,"Type":"Public","From_Account":%q,"Operator_Account":"admin",`+
			`"Random":%d,"OnlineOnlyFlag":0,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"message %d from %s"}}],`+
			`"CloudCustomData":"","ErrorCode":%d,"ErrorInfo":"msg count exceeds limit,please retry later","EventTime":"%d"}`,
			command, group, sender, n, n, sender, code, ms)
	default:
		command = otherCommands[r.IntN(len(otherCommands))]
		body = fmt.Appendf(nil, `{"CallbackCommand":%q,"GroupId":%q,"From_Account":%q,"Random":%d,"EventTime":%d,`+
			`"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hello %d"}}]}`, command, group, sender, n, ms, n)
	}
	rt, sign := m.signature(now)
	q := "SdkAppid=" + strconv.Itoa(appID) + "&CallbackCommand=" + command +
		"&contenttype=json&ClientIP=10.0.0.1&OptPlatform=RESTAPI&Sign=" + sign + "&RequestTime=" + rt
	return q, body
}

// loadOptions say how hard to push.
type loadOptions struct {
	URL string // the callback URL, without a query
	// URLs, when set, are several daemons' callback URLs: connection i
	// sends to URLs[i%len(URLs)], as a balancer spreading connections.
	URLs     []string
	Conns    int
	Rate     int // requests per second; 0: flat out
	Duration time.Duration
}

// result is what one load run measured.
type result struct {
	Sent, OK int
	Errors   map[string]int
	Elapsed  time.Duration
	Lat      []time.Duration // sorted
	// Late is, at a fixed rate, how long after its due time each request
	// was taken by a connection to be sent (sorted): the harness's own
	// delay, part of Lat.
	Late []time.Duration
	// FromSend is, at a fixed rate, each answered request's time from when a
	// connection took it to its answer (sorted): Lat without the
	// harness's delay. With connections to spare at the rates measured,
	// that delay is the harness waiting for a CPU it shares with the
	// server, which IM, on machines of its own, does not.
	FromSend []time.Duration
}

func (r *result) rate() float64 { return float64(r.Sent) / r.Elapsed.Seconds() }

func (r *result) pct(p float64) time.Duration { return percentile(r.Lat, p) }

// percentile returns the p-th (0 to 1) of the sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

var okAnswer = []byte(`"ActionStatus":"OK"`)

// load sends m's requests to o.URL for o.Duration. At a fixed rate the
// latency counts from when a request was due, so a stalled server is not
// hidden by requests that were never sent (coordinated omission).
func load(ctx context.Context, m *mix, o loadOptions) *result {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: o.Conns, MaxConnsPerHost: o.Conns, MaxIdleConns: 2 * o.Conns, DisableCompression: true,
	}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var due chan time.Time
	if o.Rate > 0 {
		due = make(chan time.Time, o.Rate*int(o.Duration/time.Second+1))
		go schedule(ctx, due, o.Rate)
	}
	parts := make([]*result, o.Conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range parts {
		parts[i] = &result{Errors: map[string]int{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := o.URL
			if len(o.URLs) > 0 {
				url = o.URLs[i%len(o.URLs)]
			}
			worker(ctx, client, m, url, due, parts[i], rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))))
		}()
	}
	wg.Wait()
	total := &result{Errors: map[string]int{}}
	for _, p := range parts {
		total.add(p)
	}
	total.Elapsed = time.Since(start)
	total.sort()
	return total
}

// add counts the run s into r, as if one run; sort r once all are in.
func (r *result) add(s *result) {
	r.Sent += s.Sent
	r.OK += s.OK
	r.Elapsed += s.Elapsed
	for k, v := range s.Errors {
		r.Errors[k] += v
	}
	r.Lat = append(r.Lat, s.Lat...)
	r.Late = append(r.Late, s.Late...)
	r.FromSend = append(r.FromSend, s.FromSend...)
}

// sort puts r's latencies in order, as percentile needs them.
func (r *result) sort() {
	slices.Sort(r.Lat)
	slices.Sort(r.Late)
	slices.Sort(r.FromSend)
}

// schedule puts a due time on due rate times a second until ctx ends.
// It sleeps until each due time on a thread of its own (sleepUntil): a
// ticker of the Go runtime wakes a millisecond apart at best, and
// releasing requests at its ticks held them 0.8 ms past their due time at
// the median and 1.6 ms at p99 on an idle machine, all of it counted as
// the server's latency.
func schedule(ctx context.Context, due chan<- time.Time, rate int) {
	runtime.LockOSThread() // never unlocked: the thread ends with the run
	defer close(due)
	interval := time.Second / time.Duration(rate)
	next := time.Now()
	for ctx.Err() == nil {
		sleepUntil(next)
		for now := time.Now(); !next.After(now); next = next.Add(interval) {
			select {
			case due <- next:
			default: // the buffer holds the whole run; never reached
			}
		}
	}
}

func worker(ctx context.Context, client *http.Client, m *mix, url string, due <-chan time.Time, out *result, r *rand.Rand) {
	buf := make([]byte, 0, 512)
	for {
		start := time.Now()
		if due != nil {
			var ok bool
			select {
			case <-ctx.Done():
				return
			case start, ok = <-due:
				if !ok {
					return
				}
			}
			out.Late = append(out.Late, time.Since(start))
		} else if ctx.Err() != nil {
			return
		}
		taken := time.Now()
		q, body := m.next(r, time.Now())
		req, _ := http.NewRequest(http.MethodPost, url+"?"+q, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil && due == nil {
				return // cut off by the end of the run
			}
			out.Sent++
			out.Errors["transport"]++
			continue
		}
		buf, _ = readAll(resp.Body, buf[:0])
		resp.Body.Close()
		out.Sent++
		out.Lat = append(out.Lat, time.Since(start))
		if due != nil {
			out.FromSend = append(out.FromSend, time.Since(taken))
		}
		if resp.StatusCode != http.StatusOK || !bytes.Contains(buf, okAnswer) {
			out.Errors[strconv.Itoa(resp.StatusCode)]++
			continue
		}
		out.OK++
	}
}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	b := bytes.NewBuffer(buf)
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}
