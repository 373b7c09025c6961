package config

import (
	"net"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/imalert/imalert/internal/yamlfile"
)

// State chooses where the decision state lives (throttle windows,
// threshold counts, first-seen marks): in memory on one node, or in Redis,
// shared by several replicas.
type State struct {
	Backend string `yaml:"backend"` // StateMemory or StateRedis
	Redis   Redis  `yaml:"redis"`
	// OnRedisError is what the pipeline does while Redis does not answer:
	// FailOpen decides on the replica's own memory (a duplicate page is
	// possible), FailClosed holds the callbacks in the journal until Redis
	// answers.
	OnRedisError string `yaml:"on_redis_error"`
}

// State backends and Redis error policies.
const (
	StateMemory = "memory"
	StateRedis  = "redis"
	FailOpen    = "fail_open"
	FailClosed  = "fail_closed"
)

// Redis is the connection to the Redis server that holds the shared state.
type Redis struct {
	Addr     string `yaml:"addr"` // host:port
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// PasswordFile names a file holding the password, instead of password;
	// relative to the config file.
	PasswordFile string `yaml:"password_file"`
	DB           int    `yaml:"db"`
	TLS          bool   `yaml:"tls"`
	// KeyPrefix starts every key imalert writes, so that several imalert
	// clusters (or other users) can share one Redis.
	KeyPrefix string `yaml:"key_prefix"`
	// Timeout bounds every call to Redis, dial included.
	Timeout yamlfile.Duration `yaml:"timeout"`
}

// DefaultRedisTimeout bounds each Redis call: the pipeline is
// asynchronous, but a batch should not wait long on a Redis that is gone.
const DefaultRedisTimeout = 500 * time.Millisecond

var defaultState = State{
	Backend:      StateMemory,
	OnRedisError: FailOpen,
	Redis:        Redis{KeyPrefix: "imalert:", Timeout: yamlfile.Duration(DefaultRedisTimeout)},
}

func (s *State) validate(doc *yamlfile.Doc, n *yaml.Node) yamlfile.Errors {
	var errs yamlfile.Errors
	switch s.Backend {
	case StateMemory, StateRedis:
	default:
		errs = append(errs, doc.Errorf(yamlfile.At(n, "backend"), "state.backend: want memory or redis, got %q", s.Backend))
	}
	switch s.OnRedisError {
	case FailOpen, FailClosed:
	default:
		errs = append(errs, doc.Errorf(yamlfile.At(n, "on_redis_error"), "state.on_redis_error: want fail_open or fail_closed, got %q", s.OnRedisError))
	}
	_, rn := yamlfile.Lookup(n, "redis")
	r := &s.Redis
	errs = append(errs, resolveSecret(doc, rn, "password", &r.Password, r.PasswordFile, configDir(doc.File), "state.redis")...)
	if s.Backend != StateRedis {
		return errs
	}
	if _, _, err := net.SplitHostPort(r.Addr); err != nil {
		errs = append(errs, doc.Errorf(yamlfile.At(rn, "addr"), "state.redis.addr: want host:port, got %s", doc.Show(yamlfile.At(rn, "addr"), r.Addr)))
	}
	if r.DB < 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(rn, "db"), "state.redis.db must not be negative"))
	}
	if r.Timeout <= 0 {
		errs = append(errs, doc.Errorf(yamlfile.At(rn, "timeout"), "state.redis.timeout must be positive"))
	}
	if r.Username != "" && !r.Password.IsSet() {
		errs = append(errs, doc.Errorf(yamlfile.At(rn, "username"), "state.redis: username needs password"))
	}
	return errs
}
