package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
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
}

func (r *result) rate() float64 { return float64(r.Sent) / r.Elapsed.Seconds() }

func (r *result) pct(p float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	return r.Lat[min(len(r.Lat)-1, int(p*float64(len(r.Lat))))]
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
	total := &result{Errors: map[string]int{}, Elapsed: time.Since(start)}
	for _, p := range parts {
		total.Sent += p.Sent
		total.OK += p.OK
		total.Lat = append(total.Lat, p.Lat...)
		for k, v := range p.Errors {
			total.Errors[k] += v
		}
	}
	slices.Sort(total.Lat)
	return total
}

// schedule puts a due time on due rate times a second until ctx ends.
func schedule(ctx context.Context, due chan<- time.Time, rate int) {
	defer close(due)
	interval := time.Second / time.Duration(rate)
	next := time.Now()
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for ; !next.After(now); next = next.Add(interval) {
				select {
				case due <- next:
				default: // the buffer holds the whole run; never reached
				}
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
		} else if ctx.Err() != nil {
			return
		}
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
