package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

type reloadFunc func(ctx context.Context) ([]string, error)

func (f reloadFunc) Reload(ctx context.Context) ([]string, error) { return f(ctx) }

func TestReloadEndpoint(t *testing.T) {
	tests := []struct {
		name     string
		reloader Reloader
		method   string
		status   int
		body     string
	}{
		{"success", reloadFunc(func(context.Context) ([]string, error) { return nil, nil }), http.MethodPost, 200, `{"status":"success"}`},
		{"success names what needs a restart", reloadFunc(func(context.Context) ([]string, error) {
			return []string{"listen", "receivers.ops-slack.retry.max"}, nil
		}), http.MethodPost, 200, `{"status":"success","needs_restart":["listen","receivers.ops-slack.retry.max"]}`},
		{"failure lists every error", reloadFunc(func(context.Context) ([]string, error) {
			return nil, errors.New("rules/im.yaml:3: rule \"a\": bad regex\nrules/im.yaml:9: unknown key \"x\"")
		}), http.MethodPost, 500, `{"status":"error","errors":["rules/im.yaml:3: rule \"a\": bad regex","rules/im.yaml:9: unknown key \"x\""]}`},
		{"not configured", nil, http.MethodPost, 404, `{"ActionStatus":"FAIL","ErrorInfo":"no such endpoint","ErrorCode":40401}`},
		{"GET is not allowed", reloadFunc(func(context.Context) ([]string, error) { t.Error("GET reloaded"); return nil, nil }), http.MethodGet, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Registerer: prometheus.NewRegistry(), CallbackPath: "/callback", Apps: []uint64{appID}, Ingester: &recorder{}, Reloader: tt.reloader})
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(tt.method, "/-/reload", nil))
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Errorf("body %s\nwant %s", rec.Body.String(), tt.body)
			}
		})
	}
}
