package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/imalert/imalert/alert/trace"
)

// TraceReader reads the decision trace of journaled events.
type TraceReader interface {
	List(ctx context.Context, f trace.Filter) (trace.Page, error)
	Get(ctx context.Context, id int64) (trace.Event, error)
}

// maxFilterLen bounds a filter value.
const maxFilterLen = 256

// ParseTraceFilter reads the filter of GET /api/v1/events from query
// values: group_id, from_account, error_code, rule, since (RFC 3339 or a
// duration back from now, e.g. 1h), before and limit.
func ParseTraceFilter(get func(string) string, now time.Time) (trace.Filter, error) {
	f := trace.Filter{GroupID: get("group_id"), FromAccount: get("from_account"), Rule: get("rule"), Limit: 50}
	for _, v := range []string{f.GroupID, f.FromAccount, f.Rule} {
		if len(v) > maxFilterLen {
			return f, errors.New("filter value too long")
		}
	}
	var err error
	if f.ErrorCode, err = trace.ParseErrorCode(get("error_code")); err != nil {
		return f, err
	}
	if s := get("since"); s != "" {
		if d, derr := time.ParseDuration(s); derr == nil && d > 0 {
			f.Since = now.Add(-d)
		} else if t, terr := time.Parse(time.RFC3339, s); terr == nil {
			f.Since = t
		} else {
			return f, errors.New("since: want an RFC 3339 time or a duration such as 1h")
		}
	}
	if s := get("before"); s != "" {
		if f.Before, err = strconv.ParseInt(s, 10, 64); err != nil || f.Before < 1 {
			return f, errors.New("before: want an event id")
		}
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > trace.MaxLimit {
			return f, errors.New("limit: want 1 to " + strconv.Itoa(trace.MaxLimit))
		}
		f.Limit = n
	}
	return f, nil
}

// handleEvents serves GET /api/v1/events: recent journaled events, newest
// first, with the rules they matched, each decision and its reason, and
// the notifications made with every delivery attempt.
func (s *Server) handleEvents(c *gin.Context) {
	f, err := ParseTraceFilter(c.Query, s.o.Now())
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	p, err := s.o.Trace.List(c.Request.Context(), f)
	if err != nil {
		s.logger.Error("listing events failed", "err", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
		return
	}
	c.JSON(http.StatusOK, p)
}

// handleEvent serves GET /api/v1/events/{id}.
func (s *Server) handleEvent(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "id: want an event id"})
		return
	}
	ev, err := s.o.Trace.Get(c.Request.Context(), id)
	if errors.Is(err, trace.ErrNotFound) {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "no such event"})
		return
	}
	if err != nil {
		s.logger.Error("reading event failed", "err", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
		return
	}
	c.JSON(http.StatusOK, ev)
}
