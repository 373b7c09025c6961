package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/imalert/imalert/alert/trace"
)

// TraceReader reads the decision trace of journaled events.
type TraceReader interface {
	List(ctx context.Context, f trace.Filter) (trace.Page, error)
	Get(ctx context.Context, id int64) (trace.Event, error)
}

// handleEvents serves GET /api/v1/events: recent journaled events, newest
// first, with the rules they matched, each decision and its reason, and
// the notifications made with every delivery attempt.
func (s *Server) handleEvents(c *gin.Context) {
	f, err := trace.ParseFilter(c.Query, s.o.Now())
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
