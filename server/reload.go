package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// Reloader reloads the config and rules. On success it names the changes
// that were read but take effect only at the next restart. An error means
// the running config and rules were kept; its text, one problem per
// line, says why.
type Reloader interface {
	Reload(ctx context.Context) (needsRestart []string, err error)
}

// reloadAnswer is the JSON answer of POST /-/reload.
type reloadAnswer struct {
	Status string   `json:"status"` // success or error
	Errors []string `json:"errors,omitempty"`
	// NeedsRestart names the changed settings a reload does not apply.
	NeedsRestart []string `json:"needs_restart,omitempty"`
}

// handleReload reloads and answers 200 on success, with the changes that
// need a restart, or 500 with every problem found when the running config
// and rules were kept.
func (s *Server) handleReload(c *gin.Context) {
	if s.o.Reloader == nil {
		fail(c, http.StatusNotFound, codeNotFound, "no such endpoint")
		return
	}
	restart, err := s.o.Reloader.Reload(c.Request.Context())
	if err != nil {
		c.JSON(http.StatusInternalServerError, reloadAnswer{Status: "error", Errors: strings.Split(err.Error(), "\n")})
		return
	}
	c.JSON(http.StatusOK, reloadAnswer{Status: "success", NeedsRestart: restart})
}
