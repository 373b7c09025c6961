package main

import (
	"errors"
	"io"

	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/yamlfile"
	"github.com/imalert/imalert/reload"
)

// printErrors writes one line per error.
func printErrors(w io.Writer, err error) {
	var es yamlfile.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			_, _ = io.WriteString(w, e.Error()+"\n")
		}
		return
	}
	_, _ = io.WriteString(w, err.Error()+"\n")
}

// redacted wraps w so that no secret of s's config is written through it:
// check and serve print config errors and warnings, which may quote a
// value that also holds a secret.
func redacted(w io.Writer, s *reload.Set) io.Writer {
	if s == nil || s.Config == nil {
		return w
	}
	return redactWriter{w: w, r: config.NewRedactor(s.Config.Secrets()...)}
}

type redactWriter struct {
	w io.Writer
	r *config.Redactor
}

func (rw redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(rw.w, rw.r.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
