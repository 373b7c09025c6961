package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/imalert/imalert/callback"
)

// ErrorCodes of FAIL answers: the HTTP status times 100 plus a detail, so a
// Tencent console log line says what went wrong.
const (
	codeBadQuery   = 40001
	codeBadBody    = 40002
	codeUnknownApp = 40301
	codeNotFound   = 40401
	codeMethod     = 40501
	codeTooLarge   = 41301
	codeInternal   = 50001
	codeBusy       = 50301
)

// okBody is IM's success answer, written verbatim.
var okBody = []byte(`{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`)

type answer struct {
	ActionStatus string `json:"ActionStatus"`
	ErrorInfo    string `json:"ErrorInfo"`
	ErrorCode    int    `json:"ErrorCode"`
}

func fail(c *gin.Context, status, code int, info string) {
	c.AbortWithStatusJSON(status, answer{ActionStatus: "FAIL", ErrorInfo: info, ErrorCode: code})
}

// handleCallback implements the IM callback envelope: bounded read, query
// and app check, body parse, hand-off, answer. It never waits on delivery.
func (s *Server) handleCallback(c *gin.Context) {
	start := s.o.Now()
	result := s.callback(c)
	s.metrics.requests.WithLabelValues(result).Inc()
	s.metrics.duration.Observe(s.o.Now().Sub(start).Seconds())
}

func (s *Server) callback(c *gin.Context) string {
	max := s.o.MaxBodyBytes
	if c.Request.ContentLength > max {
		fail(c, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("body larger than %d bytes", max))
		return "too_large"
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(c, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("body larger than %d bytes", max))
			return "too_large"
		}
		fail(c, http.StatusBadRequest, codeBadBody, "could not read body")
		return "bad_body"
	}
	q, err := callback.ParseQuery(c.Request.URL.Query())
	if err != nil {
		fail(c, http.StatusBadRequest, codeBadQuery, err.Error())
		return "bad_query"
	}
	if !s.apps[q.AppID] {
		fail(c, http.StatusForbidden, codeUnknownApp, "unknown SdkAppid "+strconv.FormatUint(q.AppID, 10)+": not an app of this receiver")
		return "unknown_app"
	}
	ev, err := callback.Parse(q, body, s.o.Limits)
	if err != nil {
		fail(c, http.StatusBadRequest, codeBadBody, err.Error())
		return "bad_body"
	}
	now := s.o.Now()
	ev.ReceivedAt = now
	raw := callback.Raw{Query: c.Request.URL.RawQuery, Body: body, ReceivedAt: now}
	if err := s.o.Ingester.Ingest(c.Request.Context(), raw, ev); err != nil {
		s.logger.Error("ingest failed", "err", err)
		fail(c, http.StatusServiceUnavailable, codeBusy, "receiver busy, retry later")
		return "busy"
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", okBody)
	return "ok"
}
