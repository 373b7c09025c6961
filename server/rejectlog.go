package server

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// RejectLogEvery is how often a refused callback is logged per reason:
// a flood of bad requests (a wrong token after a rotation, a scanner) is
// one warning per reason per interval, each saying how many were not
// logged since the last.
const RejectLogEvery = 10 * time.Second

// maxRejectReasons bounds the reasons tracked. Reasons are labels written
// in this package, never payload values, so this is a guard, not a limit
// met in practice; a reason beyond it is logged under "other".
const maxRejectReasons = 64

// rejectLog logs refused callbacks at warn, at most one line per reason
// per interval, on the clock it is given.
type rejectLog struct {
	logger *slog.Logger
	every  time.Duration

	mu       sync.Mutex
	byReason map[string]*rejectCount
}

type rejectCount struct {
	logged time.Time // when the last line for the reason was written
	held   int       // refusals not logged since
}

func newRejectLog(logger *slog.Logger, every time.Duration) *rejectLog {
	return &rejectLog{logger: logger, every: every, byReason: map[string]*rejectCount{}}
}

// note records one refusal of reason from source at now, and logs it
// unless a line for the same reason was written less than every ago.
// detail is what the caller was answered; it names no secret.
func (l *rejectLog) note(now time.Time, reason, source, detail string) {
	l.mu.Lock()
	rc, ok := l.byReason[reason]
	if !ok {
		if len(l.byReason) >= maxRejectReasons-1 {
			reason = "other"
			rc = l.byReason[reason]
		}
		if rc == nil {
			rc = &rejectCount{}
			l.byReason[reason] = rc
		}
	}
	if !rc.logged.IsZero() && now.Sub(rc.logged) < l.every && now.Sub(rc.logged) >= 0 {
		rc.held++
		l.mu.Unlock()
		return
	}
	held := rc.held
	rc.logged, rc.held = now, 0
	l.mu.Unlock()
	l.logger.Warn("callback refused", "reason", reason, "source", source, "detail", detail,
		"not_logged_since_last", held)
}

// refuse answers a callback request with a FAIL of status and code, and
// notes the refusal under reason, with the request's source.
func (s *Server) refuseWith(c *gin.Context, reason string, status, code int, info string) {
	fail(c, status, code, info)
	s.rejects.note(s.o.Now(), reason, c.ClientIP(), clip(info, maxDetail))
}

// maxDetail bounds the detail of a refusal in the log, in bytes: a parse
// error can quote the body.
const maxDetail = 200

// clip cuts s to at most n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}
