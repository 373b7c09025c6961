package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/imalert/imalert/callback"
)

// serveBare runs the baseline: a bare gin handler that reads the body,
// parses the query and the events as imalert does, and answers OK, with
// nothing durable. It runs in its own process so that its CPU time is its
// own.
func serveBare(addr string) error {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	ok := []byte(`{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`)
	e.POST("/callback", func(c *gin.Context) {
		q, err := callback.ParseQuery(c.Request.URL.Query())
		if err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
		if err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		if _, err := callback.ParseEvents(q, body, callback.Limits{}); err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		c.Data(http.StatusOK, "application/json; charset=utf-8", ok)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	slog.New(slog.NewTextHandler(os.Stderr, nil)).Info("listening", "addr", ln.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv := &http.Server{Handler: e}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bare: %w", err)
	}
	return nil
}
