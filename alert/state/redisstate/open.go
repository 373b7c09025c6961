package redisstate

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/imalert/imalert/alert/state"
	"github.com/imalert/imalert/config"
)

// Options are what Open needs besides the config.
type Options struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// MaxKeys bounds the replica's own memory of the state (the fail-open
	// mirror); default config.DefaultMaxKeys.
	MaxKeys int
}

// Open returns the decision state store c asks for and a function that
// closes it. For backend memory it returns a nil Store: the pipeline
// keeps its own in memory, as it always has. For redis it returns a
// Fallback; a Redis that does not answer at start is logged, not an
// error: callbacks are journaled and acknowledged whatever Redis does, and
// the policy applies until it answers.
func Open(ctx context.Context, c config.State, o Options) (state.Store, func() error, error) {
	if c.Backend != config.StateRedis {
		return nil, func() error { return nil }, nil
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := c.Redis
	timeout := r.Timeout.D()
	opts := &redis.Options{
		Addr:                  r.Addr,
		Username:              r.Username,
		Password:              r.Password.Reveal(),
		DB:                    r.DB,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		ContextTimeoutEnabled: true,
		// Retries replace pooled connections a Redis restart broke; the
		// call's timeout bounds them all.
		MaxRetries:      2,
		DialerRetries:   1,
		DisableIdentity: true,
	}
	if r.TLS {
		host, _, _ := net.SplitHostPort(r.Addr)
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	}
	// go-redis logs through a process-wide logger of its own (failed
	// dials); send it to ours, so that a JSON log stays JSON.
	redis.SetLogger(clientLog{o.Logger})
	rdb := redis.NewClient(opts)
	m := NewMetrics(o.Registerer)
	f := &Fallback{
		redis:    NewRedis(rdb, r.KeyPrefix),
		local:    state.NewMemory(state.MemoryOptions{MaxKeys: o.MaxKeys}),
		raw:      map[string][]byte{},
		failOpen: c.OnRedisError != config.FailClosed,
		timeout:  timeout,
		logger:   o.Logger,
		metrics:  m,
	}
	m.policy.WithLabelValues(f.policy()).Set(1)
	m.up.Set(1)
	err := f.call(ctx, func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	o.Logger.Info("decision state shared in redis", "addr", r.Addr, "db", r.DB, "tls", r.TLS,
		"key_prefix", r.KeyPrefix, "policy", f.policy(), "reachable", err == nil)
	return f, rdb.Close, nil
}

// clientLog is go-redis's logger on slog. Its lines are about connections
// to Redis; the outage itself is logged once by Fallback.
type clientLog struct{ logger *slog.Logger }

func (l clientLog) Printf(ctx context.Context, format string, v ...any) {
	l.logger.DebugContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}
