package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imalert/imalert/internal/yamlfile"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		file string
		want State
	}{
		{"good.yaml", State{Backend: StateMemory, OnRedisError: FailOpen,
			Redis: Redis{KeyPrefix: "imalert:", Timeout: yamlfile.Duration(DefaultRedisTimeout)}}},
		// The configuration, exactly as written.
		{"state-redis.yaml", State{Backend: StateRedis, OnRedisError: FailOpen,
			Redis: Redis{Addr: "127.0.0.1:6379", KeyPrefix: "imalert:", Timeout: yamlfile.Duration(DefaultRedisTimeout)}}},
		{"state-redis-full.yaml", State{Backend: StateRedis, OnRedisError: FailClosed,
			Redis: Redis{Addr: "redis.internal:6380", Username: "imalert", Password: "redis-secret-password",
				PasswordFile: "redis.password", DB: 2, TLS: true, KeyPrefix: "prod:imalert:",
				Timeout: yamlfile.Duration(250 * time.Millisecond)}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := parseFile(t, filepath.Join("testdata", tt.file), map[string]string{
				"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B2/secretpart",
				"SMTP_PASSWORD":     "hunter2-password",
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, c.State); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStateErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"state-errors.yaml", []string{
			`state-errors.yaml:4: state.backend: want memory or redis, got "etcd"`,
			`state-errors.yaml:5: state.on_redis_error: want fail_open or fail_closed, got "retry"`,
			`state-errors.yaml:9: state.redis: set password or password_file, not both`,
		}},
		{"state-redis-errors.yaml", []string{
			`state-redis-errors.yaml:6: state.redis.addr: want host:port, got "127.0.0.1"`,
			`state-redis-errors.yaml:7: state.redis: username needs password`,
			`state-redis-errors.yaml:8: state.redis.db must not be negative`,
			`state-redis-errors.yaml:9: state.redis.timeout must be positive`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata/bad", tt.file)
			_, err := parseFile(t, path, nil)
			var es yamlfile.Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want yamlfile.Errors", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), strings.Replace(w, tt.file, path, 1)) {
					t.Errorf("errors do not contain %q; got:\n%s", w, err)
				}
			}
			if len(es) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%s", len(es), len(tt.want), err)
			}
		})
	}
}

// The Redis password is a secret: redacted wherever the config is shown,
// and listed for the log redactor.
func TestRedisPasswordRedacted(t *testing.T) {
	c, err := parseFile(t, "testdata/state-redis-full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprintf("%v %+v %#v", c.State, c.State, c.State); strings.Contains(out, "redis-secret-password") {
		t.Errorf("password printed: %s", out)
	}
	found := false
	for _, s := range c.Secrets() {
		found = found || s.Reveal() == "redis-secret-password"
	}
	if !found {
		t.Error("Secrets() lacks the Redis password")
	}
}
