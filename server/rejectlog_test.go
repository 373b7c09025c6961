package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/callback"
)

// logLines decodes the JSON lines a slog.JSONHandler wrote.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

// One line per reason per interval; the refusals in between are counted
// into the next line of the same reason.
func TestRejectLogOnePerReasonPerInterval(t *testing.T) {
	var buf bytes.Buffer
	l := newRejectLog(slog.New(slog.NewJSONHandler(&buf, nil)), 10*time.Second)
	at := func(d time.Duration) time.Time { return fixedNow.Add(d) }
	type line struct {
		Reason string
		Held   float64
	}
	steps := []struct {
		at     time.Duration
		reason string
		want   []line
	}{
		{0, "sign_mismatch", []line{{"sign_mismatch", 0}}},
		{time.Second, "sign_mismatch", nil},
		{2 * time.Second, "bad_body", []line{{"bad_body", 0}}}, // reasons apart
		{9 * time.Second, "sign_mismatch", nil},
		{9*time.Second + 999*time.Millisecond, "sign_mismatch", nil},
		{10 * time.Second, "sign_mismatch", []line{{"sign_mismatch", 3}}},
		{12 * time.Second, "bad_body", []line{{"bad_body", 0}}},
		{13 * time.Second, "sign_mismatch", nil},
		{time.Hour, "sign_mismatch", []line{{"sign_mismatch", 1}}},
	}
	for i, s := range steps {
		l.note(at(s.at), s.reason, "203.0.113.7", "detail")
		var got []line
		for _, m := range logLines(t, &buf) {
			if m["level"] != "WARN" || m["source"] != "203.0.113.7" || m["detail"] != "detail" {
				t.Errorf("step %d: line %v", i, m)
			}
			got = append(got, line{m["reason"].(string), m["not_logged_since_last"].(float64)})
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("step %d (%v %s): lines (-want +got):\n%s", i, s.at, s.reason, diff)
		}
	}
}

// The reasons tracked are bounded: past the bound, they share "other".
func TestRejectLogBounded(t *testing.T) {
	var buf bytes.Buffer
	l := newRejectLog(slog.New(slog.NewJSONHandler(&buf, nil)), 10*time.Second)
	for i := range 3 * maxRejectReasons {
		l.note(fixedNow, "r"+strconv.Itoa(i), "x", "")
	}
	if n := len(l.byReason); n > maxRejectReasons {
		t.Errorf("%d reasons tracked, want at most %d", n, maxRejectReasons)
	}
	if n := len(logLines(t, &buf)); n != maxRejectReasons {
		t.Errorf("%d lines, want %d (one for each reason kept, one for other)", n, maxRejectReasons)
	}
}

// Each kind of refused callback is logged at warn with its reason and the
// connection's source; a repeat inside the interval is not, and the next
// line counts it. No token reaches the log.
func TestRefusedCallbacksAreLogged(t *testing.T) {
	var buf bytes.Buffer
	x := newSecure(t, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	now := fixedNow
	cmd := callback.CommandSendMsgException
	rt := strconv.FormatInt(now.Unix(), 10)
	base := "/callback?SdkAppid=1400000000&CallbackCommand=" + cmd + "&contenttype=json"
	tests := []struct {
		name, target, body, reason string
		status                     int
	}{
		{"bad signature", base + "&Sign=" + callback.Sign("guessed", rt) + "&RequestTime=" + rt, "{}", "sign_mismatch", 401},
		{"stale request", signedQuery(signedApp, cmd, tokenNow, now.Add(-time.Hour)), "{}", "request_time_stale", 401},
		{"unknown app", "/callback?SdkAppid=42&CallbackCommand=" + cmd, "{}", "unknown_app", 403},
		{"bad body", signedQuery(signedApp, cmd, tokenNow, now), `{"GroupId": [`, "bad_body", 400},
		{"bad query", "/callback?CallbackCommand=" + cmd, "{}", "bad_query", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := x.do(t, "POST", tt.target, tt.body, nil, "203.0.113.7:4321")
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if strings.Contains(buf.String(), tokenNow) {
				t.Error("a token reached the log")
			}
			lines := logLines(t, &buf)
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1", len(lines))
			}
			m := lines[0]
			if m["level"] != "WARN" || m["reason"] != tt.reason || m["source"] != "203.0.113.7" || m["detail"] == "" {
				t.Errorf("line %v, want warn with reason %s and source 203.0.113.7", m, tt.reason)
			}
			x.do(t, "POST", tt.target, tt.body, nil, "203.0.113.8:4321")
			if lines := logLines(t, &buf); len(lines) != 0 {
				t.Errorf("a repeat within %v logged %v", RejectLogEvery, lines)
			}
		})
	}
	x.clk.Add(RejectLogEvery)
	x.do(t, "POST", tests[0].target, tests[0].body, nil, "203.0.113.9:4321")
	lines := logLines(t, &buf)
	if len(lines) != 1 || lines[0]["not_logged_since_last"] != 1.0 || lines[0]["source"] != "203.0.113.9" {
		t.Errorf("after the interval: %v, want one line counting the repeat", lines)
	}
}
