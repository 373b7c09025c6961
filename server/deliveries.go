package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/store"
)

// DeliveryLister lists outbox notifications.
type DeliveryLister interface {
	Deliveries(ctx context.Context, f store.Filter) ([]store.Notification, error)
}

// maxDeliveries bounds one listing.
const maxDeliveries = 1000

// handleDeliveries serves GET /api/v1/deliveries?state=dead&receiver=x&limit=n:
// outbox notifications, newest first, as JSON.
func (s *Server) handleDeliveries(c *gin.Context) {
	f := store.Filter{State: store.State(c.Query("state")), Receiver: c.Query("receiver"), Limit: 100}
	if f.State != "" && !store.ValidState(f.State) {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "state: want pending, sent, merged, dead, rerouted or held"})
		return
	}
	if len(f.Receiver) > 64 {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "receiver: too long"})
		return
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxDeliveries {
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "limit: want 1 to " + strconv.Itoa(maxDeliveries)})
			return
		}
		f.Limit = n
	}
	rows, err := s.o.Deliveries.Deliveries(c.Request.Context(), f)
	if err != nil {
		s.logger.Error("listing deliveries failed", "err", err)
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal error"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"deliveries": delivery.Deliveries(rows)})
}
