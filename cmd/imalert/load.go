package main

import (
	"errors"
	"io"

	"github.com/imalert/imalert/callback"
	"github.com/imalert/imalert/config"
	"github.com/imalert/imalert/internal/yamlfile"
	"github.com/imalert/imalert/rules"
)

// setup is everything serve needs from the config file and the rule files.
// check and serve both build it with load, so check validates exactly what
// serve would run.
type setup struct {
	cfg       *config.Config
	files     []*rules.File
	rules     *rules.Engine
	catalogue *callback.Catalogue // built-in codes with the config's codes: on top
}

// load reads the config at path (the built-in config and rules when path is
// empty), then the rule files it names, and compiles the rules. It returns
// every error it finds, as yamlfile.Errors when they have positions.
func load(path string) (*setup, error) { return loadWith(path, config.LoadOptions{}) }

// withoutSecrets is how check and test load: they send nothing, so a secret whose
// environment variable is unset gets a placeholder and a warning.
var withoutSecrets = config.LoadOptions{AllowMissingSecrets: true}

// loadWith is load with options for reading the config.
func loadWith(path string, o config.LoadOptions) (*setup, error) {
	s := &setup{}
	var errs yamlfile.Errors
	if path == "" {
		s.cfg = config.Default()
		s.files = rules.Default()
	} else {
		cfg, err := config.LoadWith(path, o)
		if cfg == nil {
			return nil, err
		}
		s.cfg = cfg
		errs = append(errs, yamlfile.AsErrors(path, err)...)
		errs = append(errs, templateErrors(path, cfg)...)
		files, err := rules.LoadFiles(cfg.RuleFiles)
		errs = append(errs, yamlfile.AsErrors(path, err)...)
		s.files = files
	}
	s.catalogue = catalogue(s.cfg)
	engine, err := rules.Compile(s.files, rules.Options{Receivers: s.cfg.ReceiverNames(), Catalogue: s.catalogue})
	errs = append(errs, yamlfile.AsErrors(path, err)...)
	if len(errs) > 0 {
		errs.Sort()
		return s, errs
	}
	s.rules = engine
	return s, nil
}

// catalogue is the built-in error-code catalogue with cfg's codes on top.
func catalogue(cfg *config.Config) *callback.Catalogue {
	overrides := make([]callback.CodeInfo, len(cfg.Codes))
	for i, c := range cfg.Codes {
		overrides[i] = callback.CodeInfo{Code: c.Code, Meaning: c.Meaning, Severity: c.Severity}
	}
	return callback.NewCatalogue(overrides...)
}

// printErrors writes one line per error.
func printErrors(w interface{ Write([]byte) (int, error) }, err error) {
	var es yamlfile.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			_, _ = w.Write([]byte(e.Error() + "\n"))
		}
		return
	}
	_, _ = w.Write([]byte(err.Error() + "\n"))
}

// redacted wraps w so that no secret of s's config is written through it:
// check and serve print config errors and warnings, which may quote a
// value that also holds a secret.
func redacted(w io.Writer, s *setup) io.Writer {
	if s == nil || s.cfg == nil {
		return w
	}
	return redactWriter{w: w, r: config.NewRedactor(s.cfg.Secrets()...)}
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
