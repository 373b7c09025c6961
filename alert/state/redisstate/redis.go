// Package redisstate keeps the decision state in Redis, shared by every
// replica: a state.Shared whose Claim is one Lua script, so that a batch
// of decisions is written only if no other replica wrote its keys since
// they were read. Open builds it from the config, with the policy for
// when Redis does not answer (fail open on the replica's own memory, or
// fail closed).
package redisstate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imalert/imalert/alert/state"
)

// Each key is a hash: "v" its version (an integer, bumped by every write),
// "d" the entry (keep-until as a varint of Unix nanoseconds, then
// state.Marshal). Its TTL, on Redis's clock, only reclaims memory, as
// go-cache's does in state.Memory: decisions read KeepUntil.

// putScript writes one entry unconditionally. KEYS[1]; ARGV: data, ttl ms.
var putScript = redis.NewScript(`
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0') + 1
redis.call('HSET', KEYS[1], 'v', v, 'd', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v`)

// claimScript writes every key, or none when one is not at the version
// read. KEYS: the keys; ARGV, three per key: version read, data, ttl ms.
// It returns the new versions, or {0, i} when key i has moved on.
var claimScript = redis.NewScript(`
for i, k in ipairs(KEYS) do
  local v = tonumber(redis.call('HGET', k, 'v') or '0')
  if v ~= tonumber(ARGV[3*i-2]) then return {0, i} end
end
local out = {}
for i, k in ipairs(KEYS) do
  local v = tonumber(ARGV[3*i-2]) + 1
  redis.call('HSET', k, 'v', v, 'd', ARGV[3*i-1])
  redis.call('PEXPIRE', k, ARGV[3*i])
  out[i] = v
end
return out`)

// releaseScript puts back the entries read where the claim's write is
// still there. KEYS: the keys; ARGV, three per key: version claimed, data
// read ("" for none: kept as an empty entry, so that the version keeps
// growing), ttl ms. It returns how many keys had moved on.
var releaseScript = redis.NewScript(`
local moved = 0
for i, k in ipairs(KEYS) do
  local v = tonumber(redis.call('HGET', k, 'v') or '0')
  if v ~= tonumber(ARGV[3*i-2]) then
    moved = moved + 1
  else
    redis.call('HSET', k, 'v', v + 1, 'd', ARGV[3*i-1])
    redis.call('PEXPIRE', k, ARGV[3*i])
  end
end
return moved`)

// rawLife is how long Redis keeps opaque data (an open digest, whose
// interval is at most days) after it was last written.
const rawLife = 7 * 24 * time.Hour

// MinLife is the least time Redis keeps an entry, on its own clock, as
// state.MinLife for memory: replaying old events finds what deciding them
// wrote.
const MinLife = state.MinLife

// Redis is a state.Shared on a Redis server. Every call returns the
// server's errors: the policy for an unreachable Redis is Fallback's.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time // wall clock, for TTLs only
}

var _ state.Shared = (*Redis)(nil)

// NewRedis returns a store on rdb whose keys start with prefix.
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	return &Redis{rdb: rdb, prefix: prefix + "s:", now: time.Now}
}

func (r *Redis) key(k string) string { return r.prefix + k }

// ttl is how long Redis keeps e, in milliseconds.
func (r *Redis) ttl(e state.Entry) int64 {
	return max(e.KeepUntil.Sub(r.now()), MinLife).Milliseconds()
}

// Get implements state.Store.
func (r *Redis) Get(ctx context.Context, key string) (state.Entry, bool, error) {
	e, ok, _, err := r.Load(ctx, key)
	return e, ok, err
}

// Load implements state.Shared.
func (r *Redis) Load(ctx context.Context, key string) (state.Entry, bool, state.Version, error) {
	vals, err := r.rdb.HMGet(ctx, r.key(key), "v", "d").Result()
	if err != nil {
		return state.Entry{}, false, 0, fmt.Errorf("redis: get: %w", err)
	}
	return parse(vals)
}

// LoadAll implements state.Shared.
func (r *Redis) LoadAll(ctx context.Context, keys []string) ([]state.Change, error) {
	cmds := make([]*redis.SliceCmd, len(keys))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.HMGet(ctx, r.key(k), "v", "d")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("redis: get: %w", err)
	}
	out := make([]state.Change, len(keys))
	for i, c := range cmds {
		e, ok, v, err := parse(c.Val())
		if err != nil {
			return nil, err
		}
		out[i] = state.Change{Key: keys[i], Read: v}
		if ok {
			out[i].Old = &e
		}
	}
	return out, nil
}

// parse reads the answer to HMGET key v d.
func parse(vals []any) (state.Entry, bool, state.Version, error) {
	vs, ok1 := vals[0].(string)
	ds, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return state.Entry{}, false, 0, nil
	}
	v, err := strconv.ParseUint(vs, 10, 64)
	if err != nil {
		return state.Entry{}, false, 0, fmt.Errorf("redis: get: version: %w", err)
	}
	e, err := decode([]byte(ds))
	if err != nil || ds == "" {
		// Released to nothing, or unreadable (written by a newer version, or damaged): absent, at
		// its version, so that the next claim replaces it rather than
		// every decision on the key failing.
		return state.Entry{}, false, state.Version(v), nil
	}
	return e, true, state.Version(v), nil
}

// Put implements state.Store.
func (r *Redis) Put(ctx context.Context, key string, e state.Entry) error {
	if err := putScript.Run(ctx, r.rdb, []string{r.key(key)}, encode(e), r.ttl(e)).Err(); err != nil {
		return fmt.Errorf("redis: put: %w", err)
	}
	return nil
}

// Delete implements state.Store.
func (r *Redis) Delete(ctx context.Context, key string) error {
	if err := r.rdb.Del(ctx, r.key(key)).Err(); err != nil {
		return fmt.Errorf("redis: delete: %w", err)
	}
	return nil
}

// Claim implements state.Shared.
func (r *Redis) Claim(ctx context.Context, cs []state.Change) ([]state.Version, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	keys := make([]string, len(cs))
	args := make([]any, 0, 3*len(cs))
	for i, c := range cs {
		keys[i] = r.key(c.Key)
		data, ttl := r.data(c.Raw, &c.Entry)
		args = append(args, uint64(c.Read), data, ttl)
	}
	out, err := claimScript.Run(ctx, r.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("redis: claim: %w", err)
	}
	if len(out) == 2 && out[0] == 0 {
		return nil, state.ErrConflict
	}
	if len(out) != len(cs) {
		return nil, fmt.Errorf("redis: claim: %d versions for %d keys", len(out), len(cs))
	}
	vs := make([]state.Version, len(out))
	for i, v := range out {
		vs[i] = state.Version(v)
	}
	return vs, nil
}

// Release implements state.Shared.
func (r *Redis) Release(ctx context.Context, cs []state.Change, wrote []state.Version) (int, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	keys := make([]string, len(cs))
	args := make([]any, 0, 3*len(cs))
	for i, c := range cs {
		keys[i] = r.key(c.Key)
		raw := c.OldRaw
		if c.Raw != nil && raw == nil {
			raw = []byte{}
		}
		data, ttl := r.data(raw, c.Old)
		args = append(args, uint64(wrote[i]), data, ttl)
	}
	n, err := releaseScript.Run(ctx, r.rdb, keys, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("redis: release: %w", err)
	}
	return n, nil
}

// data is what a change keeps: raw if not nil, else e encoded, or nothing
// when e is nil; and for how long, in milliseconds.
func (r *Redis) data(raw []byte, e *state.Entry) ([]byte, int64) {
	switch {
	case raw != nil:
		return raw, rawLife.Milliseconds()
	case e != nil:
		return encode(*e), r.ttl(*e)
	}
	return nil, MinLife.Milliseconds()
}

// LoadRaw implements state.Shared.
func (r *Redis) LoadRaw(ctx context.Context, key string) ([]byte, state.Version, error) {
	vals, err := r.rdb.HMGet(ctx, r.key(key), "v", "d").Result()
	if err != nil {
		return nil, 0, fmt.Errorf("redis: get: %w", err)
	}
	vs, ok1 := vals[0].(string)
	ds, ok2 := vals[1].(string)
	if !ok1 || !ok2 {
		return nil, 0, nil
	}
	v, err := strconv.ParseUint(vs, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("redis: get: version: %w", err)
	}
	if ds == "" {
		return nil, state.Version(v), nil
	}
	return []byte(ds), state.Version(v), nil
}

// encode is an entry as stored: keep-until, then the state.
func encode(e state.Entry) []byte {
	var ku int64
	if !e.KeepUntil.IsZero() {
		ku = e.KeepUntil.UnixNano()
	}
	return append(binary.AppendVarint(make([]byte, 0, 64), ku), state.Marshal(e.State)...)
}

var errCorrupt = errors.New("corrupt entry")

func decode(b []byte) (state.Entry, error) {
	ku, n := binary.Varint(b)
	if n <= 0 {
		return state.Entry{}, errCorrupt
	}
	st, err := state.Unmarshal(b[n:])
	if err != nil {
		return state.Entry{}, err
	}
	e := state.Entry{State: st}
	if ku != 0 {
		e.KeepUntil = time.Unix(0, ku).UTC()
	}
	return e, nil
}
