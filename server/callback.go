package server

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

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
	s.metrics.answered(result)
	s.metrics.duration.Observe(s.o.Now().Sub(start).Seconds())
}

func (s *Server) callback(c *gin.Context) string {
	// The envelope is checked before the body is read, so a request that
	// is not from a known app with a valid signature costs no body read.
	q, refused := s.admission.Envelope(c.Request.URL.Query())
	if refused != nil {
		return s.refuse(c, refused)
	}
	if !s.authenticate(c, q) {
		return "unauthorized"
	}
	if c.Request.ContentLength > s.admission.MaxBodyBytes {
		return s.refuse(c, s.admission.TooLarge())
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.admission.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return s.refuse(c, s.admission.TooLarge())
		}
		s.refuseWith(c, "bad_body", http.StatusBadRequest, codeBadBody, "could not read body")
		return "bad_body"
	}
	items, refused := s.admission.Events(q, body)
	if refused != nil {
		return s.refuse(c, refused)
	}
	s.sec.countLeftOut(items)
	return s.ingest(c, q, items)
}

// refuse answers r and returns its result label.
func (s *Server) refuse(c *gin.Context, r *Refusal) string {
	s.refuseWith(c, r.Result, r.Status, r.Code, r.Info)
	return r.Result
}

// ingest hands the events of an accepted request on, all in one call so
// that a Push batch costs one journal commit, and each at most once: an
// event whose de-duplication key was taken inside the window is
// acknowledged without being processed again. If the events cannot be
// taken the request fails (IM retries it) and their keys are forgotten.
func (s *Server) ingest(c *gin.Context, q callback.Query, items []callback.Item) string {
	ctx := c.Request.Context()
	now := s.clock.Stamp(s.o.Now())
	reqID := callback.RequestID(now)
	var claims []*seenKey
	query := callback.WithoutSign(c.Request.URL.RawQuery)
	raws := make([]callback.Raw, 0, len(items))
	evs := make([]*callback.Event, 0, len(items))
	mine := map[string]bool{} // keys claimed by this request
	for _, it := range items {
		key := dedupKey(q, it)
		if key != "" && s.dedup.enabled() {
			if mine[key] {
				s.sec.duplicates.Inc() // the same event twice in one batch
				continue
			}
			claim, dup, err := s.dedup.Acquire(ctx, now, key)
			if err != nil {
				s.dedup.Settle(claims, false)
				fail(c, http.StatusServiceUnavailable, codeBusy, "receiver busy, retry later")
				return "busy"
			}
			if dup {
				s.sec.duplicates.Inc()
				continue
			}
			mine[key] = true
			claims = append(claims, claim)
		}
		it.Event.ReceivedAt = now
		raws = append(raws, callback.Raw{Query: query, Body: it.Body, ReceivedAt: now, DedupKey: key})
		evs = append(evs, it.Event)
	}
	if len(raws) > 0 {
		if err := s.o.Ingester.Ingest(ctx, raws, evs); err != nil {
			s.dedup.Settle(claims, false)
			s.logger.Error("ingest failed: callback not acknowledged", "request_id", reqID, "err", err)
			fail(c, http.StatusServiceUnavailable, codeBusy, "receiver busy, retry later")
			return "busy"
		}
	}
	s.dedup.Settle(claims, true)
	c.Data(http.StatusOK, "application/json; charset=utf-8", okBody)
	if s.logger.Enabled(c, slog.LevelDebug) { // else its arguments cost an allocation each
		s.logger.Debug("callback accepted", "request_id", reqID, "command", q.Command, "events", len(raws), "duplicates", len(items)-len(raws))
	}
	if len(raws) == 0 && len(items) > 0 {
		return "duplicate"
	}
	return "ok"
}

// dedupKey is the de-duplication key of an event, or "" when nothing in
// the request can tell a retry from a new event. An event without
// EventTime (Alert.RequestOverLimit, Sns.*) is told apart by the
// signature's RequestTime, which a replay must reuse; without a signature
// two identical such events are two events, and both are processed.
func dedupKey(q callback.Query, it callback.Item) string {
	if it.Event.Present.Has(callback.FieldEventTime) {
		return it.DedupKey()
	}
	if q.RequestTime == "" {
		return ""
	}
	return it.DedupKey() + "@" + q.RequestTime
}

// RememberKey marks the de-duplication key of a callback taken before a
// restart (callback.Raw.DedupKey, as the journal kept it) as seen at the
// time it was received. Feed it the journal's recent keys, oldest first,
// before serving.
func (s *Server) RememberKey(receivedAt time.Time, key string) {
	if s.dedup.enabled() && key != "" {
		s.dedup.Claim(receivedAt, key)
	}
}

// DedupMaxKeys is how many de-duplication keys the server holds: reading
// more of them back from the journal at start would be wasted.
func (s *Server) DedupMaxKeys() int { return s.dedup.max }

// Remember marks a callback taken before a restart as seen, at the time it
// was received, so that IM's retries and replays of it are still
// recognised after the restart. Feed it the journal's recent entries,
// oldest first, before serving.
func (s *Server) Remember(raw callback.Raw) {
	if !s.dedup.enabled() {
		return
	}
	q, err := raw.Envelope()
	if err != nil {
		return
	}
	ev, err := callback.Parse(q, raw.Body, s.o.Limits)
	if err != nil {
		return
	}
	if key := dedupKey(q, callback.Item{Event: ev, Body: raw.Body}); key != "" {
		s.dedup.Claim(raw.ReceivedAt, key)
	}
}
