package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// Reloader reloads the rules. An error means the running rules were kept;
// its text, one problem per line, says why.
type Reloader interface {
	Reload(ctx context.Context) error
}

// reloadAnswer is the JSON answer of POST /-/reload.
type reloadAnswer struct {
	Status string   `json:"status"` // success or error
	Errors []string `json:"errors,omitempty"`
}

// handleReload reloads the rules and answers 200 on success, or 500 with
// every problem found when the running rules were kept.
func (s *Server) handleReload(c *gin.Context) {
	if s.o.Reloader == nil {
		fail(c, http.StatusNotFound, codeNotFound, "no such endpoint")
		return
	}
	if err := s.o.Reloader.Reload(c.Request.Context()); err != nil {
		c.JSON(http.StatusInternalServerError, reloadAnswer{Status: "error", Errors: strings.Split(err.Error(), "\n")})
		return
	}
	c.JSON(http.StatusOK, reloadAnswer{Status: "success"})
}
