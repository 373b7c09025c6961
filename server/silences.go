package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/imalert/imalert/alert/silence"
)

// Silencer keeps the silences: the API adds, lists and expires them.
type Silencer interface {
	Add(ctx context.Context, r silence.Request) (silence.Silence, error)
	List() []silence.Silence
	Expire(ctx context.Context, id string) (silence.Silence, error)
}

// maxSilenceBody bounds a POST /api/v1/silences body.
const maxSilenceBody = 64 << 10

func (s *Server) registerSilences(g *gin.RouterGroup) {
	g.POST("/api/v1/silences", s.handleAddSilence)
	g.GET("/api/v1/silences", s.handleListSilences)
	g.DELETE("/api/v1/silences/:id", s.handleExpireSilence)
}

// handleAddSilence serves POST /api/v1/silences: 201 with the silence, 400
// with every problem found.
func (s *Server) handleAddSilence(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxSilenceBody+1))
	if err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "reading the body failed"})
		return
	}
	if len(body) > maxSilenceBody {
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"error": "body over 64 KiB"})
		return
	}
	var r silence.Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "want a JSON object {matchers, duration or ends_at, starts_at, author, comment}: " + jsonProblem(err)})
		return
	}
	si, err := s.o.Silences.Add(c.Request.Context(), r)
	var ie *silence.InvalidError
	switch {
	case errors.As(err, &ie):
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": ie.Error(), "errors": ie.Msgs})
	case errors.Is(err, silence.ErrUnshared):
		s.unshared(c, "made", err)
	case err != nil:
		s.logger.Error("adding a silence failed", "err", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
	default:
		c.JSON(http.StatusCreated, si)
	}
}

// jsonProblem says what is wrong with a body without echoing it.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return "not valid JSON"
	case errors.As(err, &te):
		return "field " + te.Field + " has the wrong type"
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	if msg := err.Error(); len(msg) < 80 {
		return msg // e.g. json: unknown field "x" (the name is clipped by the length check)
	}
	return "not a valid request"
}

// handleListSilences serves GET /api/v1/silences[?state=active]: every
// silence with its state and how many events it has held.
func (s *Server) handleListSilences(c *gin.Context) {
	state := silence.State(c.Query("state"))
	switch state {
	case "", silence.Active, silence.Pending, silence.Expired:
	default:
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "state: want active, pending or expired"})
		return
	}
	out := []silence.Silence{}
	for _, si := range s.o.Silences.List() {
		if state == "" || si.State == state {
			out = append(out, si)
		}
	}
	c.JSON(http.StatusOK, gin.H{"silences": out})
}

// handleExpireSilence serves DELETE /api/v1/silences/{id}: the silence
// ends now.
func (s *Server) handleExpireSilence(c *gin.Context) {
	si, err := s.o.Silences.Expire(c.Request.Context(), c.Param("id"))
	switch {
	case errors.Is(err, silence.ErrNotFound):
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "no such silence"})
	case errors.Is(err, silence.ErrUnshared):
		s.unshared(c, "expired", err)
	case err != nil:
		s.logger.Error("expiring a silence failed", "err", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
	default:
		c.JSON(http.StatusOK, si)
	}
}

// unsharedRetryAfter is the Retry-After, in seconds, of an answer that a
// silence could not be shared: about the longest the replica leaves an
// unanswering Redis alone.
const unsharedRetryAfter = "5"

// unshared answers 503: the silence change could not reach the other
// replicas, so it was not made.
func (s *Server) unshared(c *gin.Context, done string, err error) {
	s.logger.Warn("silence not "+done+": redis does not answer", "err", err)
	c.Header("Retry-After", unsharedRetryAfter)
	c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "the silence was not " + done +
		": the replicas share silences through Redis, which does not answer; try again shortly"})
}
