package redisstate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/imalert/imalert/alert/state"
)

// ErrUnavailable reports that Redis did not answer, or is known to be down
// and is not asked again before its backoff has passed.
var ErrUnavailable = errors.New("redisstate: redis unavailable")

// Fallback is a state.Shared on Redis with a policy for when Redis does
// not answer. Each call has a short timeout. After a failure, Redis is
// left alone for a backoff (doubling from 100ms up to 5s) during which
// calls fail at once, so a batch never waits on a Redis that is gone; the
// first call after the backoff tries again.
//
// Fail open: calls Redis cannot answer are served by the replica's own
// memory, which mirrors every entry read from or claimed in Redis, so a
// window another replica opened is still known here. Decisions go on,
// and a page another replica also sends is possible. Fail closed: the
// error is returned, the pipeline decides nothing and the callbacks wait
// in the journal until Redis answers.
type Fallback struct {
	redis    *Redis
	local    *state.Memory
	failOpen bool
	timeout  time.Duration
	logger   *slog.Logger
	metrics  *Metrics

	mu      sync.Mutex
	raw     map[string][]byte // the local mirror of opaque data (digests)
	down    bool
	retryAt time.Time
	backoff time.Duration
	outage  int // decisions without Redis in the current outage
}

var _ state.Shared = (*Fallback)(nil)

// Backoff bounds between attempts to reach a Redis that is down.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// policy names the policy in logs and metrics.
func (f *Fallback) policy() string {
	if f.failOpen {
		return "fail_open"
	}
	return "fail_closed"
}

// call runs op on Redis with the timeout, unless Redis is known down and
// its backoff has not passed. A conflict is an answer, not a failure.
func (f *Fallback) call(ctx context.Context, op func(ctx context.Context) error) error {
	now := time.Now()
	f.mu.Lock()
	skip := f.down && now.Before(f.retryAt)
	f.mu.Unlock()
	if skip {
		return ErrUnavailable
	}
	callCtx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	err := op(callCtx)
	if err == nil || errors.Is(err, state.ErrConflict) {
		f.answered()
		return err
	}
	if ctx.Err() != nil {
		return err // the caller gave up: says nothing about Redis
	}
	f.failed(err)
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (f *Fallback) answered() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down {
		return
	}
	f.down, f.backoff = false, 0
	f.metrics.up.Set(1)
	f.logger.Info("redis answers again: decisions shared", "policy", f.policy(), "decisions_without_redis", f.outage)
	f.outage = 0
}

func (f *Fallback) failed(err error) {
	f.metrics.errors.Inc()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backoff = min(max(2*f.backoff, minBackoff), maxBackoff)
	f.retryAt = time.Now().Add(f.backoff)
	if f.down {
		return
	}
	f.down = true
	f.metrics.up.Set(0)
	if f.failOpen {
		f.logger.Warn("redis unreachable: deciding on this replica's memory, duplicate pages possible", "policy", f.policy(), "err", err)
	} else {
		f.logger.Warn("redis unreachable: holding callbacks in the journal until it answers", "policy", f.policy(), "err", err)
	}
}

// without counts n decisions taken (fail open) or held (fail closed)
// without Redis.
func (f *Fallback) without(n int) {
	f.metrics.without.WithLabelValues(f.policy()).Add(float64(n))
	f.mu.Lock()
	f.outage += n
	f.mu.Unlock()
}

// Get implements state.Store.
func (f *Fallback) Get(ctx context.Context, key string) (state.Entry, bool, error) {
	e, ok, _, err := f.Load(ctx, key)
	return e, ok, err
}

// Load implements state.Shared. Under fail open, an entry served from
// memory has version 0, which the Claim that follows does not check.
func (f *Fallback) Load(ctx context.Context, key string) (e state.Entry, ok bool, v state.Version, err error) {
	err = f.call(ctx, func(ctx context.Context) error {
		e, ok, v, err = f.redis.Load(ctx, key)
		return err
	})
	switch {
	case err == nil:
		if ok {
			_ = f.local.Put(ctx, key, e) // mirrored for an outage
		}
		return e, ok, v, nil
	case f.failOpen && errors.Is(err, ErrUnavailable):
		e, ok, _ = f.local.Get(ctx, key)
		return e, ok, 0, nil
	case errors.Is(err, ErrUnavailable):
		f.without(1) // the batch is held
	}
	return state.Entry{}, false, 0, err
}

// LoadAll implements state.Shared, with Load's policy.
func (f *Fallback) LoadAll(ctx context.Context, keys []string) (cs []state.Change, err error) {
	if len(keys) == 0 {
		return nil, nil
	}
	err = f.call(ctx, func(ctx context.Context) error {
		cs, err = f.redis.LoadAll(ctx, keys)
		return err
	})
	switch {
	case err == nil:
		for _, c := range cs {
			if c.Old != nil {
				_ = f.local.Put(ctx, c.Key, *c.Old)
			}
		}
		return cs, nil
	case f.failOpen && errors.Is(err, ErrUnavailable):
		cs = make([]state.Change, len(keys))
		for i, k := range keys {
			cs[i] = state.Change{Key: k}
			if e, ok, _ := f.local.Get(ctx, k); ok {
				cs[i].Old = &e
			}
		}
		return cs, nil
	case errors.Is(err, ErrUnavailable):
		f.without(1)
	}
	return nil, err
}

// Put implements state.Store.
func (f *Fallback) Put(ctx context.Context, key string, e state.Entry) error {
	_ = f.local.Put(ctx, key, e)
	err := f.call(ctx, func(ctx context.Context) error { return f.redis.Put(ctx, key, e) })
	if err != nil && f.failOpen && errors.Is(err, ErrUnavailable) {
		return nil
	}
	return err
}

// Delete implements state.Store.
func (f *Fallback) Delete(ctx context.Context, key string) error {
	_ = f.local.Delete(ctx, key)
	err := f.call(ctx, func(ctx context.Context) error { return f.redis.Delete(ctx, key) })
	if err != nil && f.failOpen && errors.Is(err, ErrUnavailable) {
		return nil
	}
	return err
}

// Claim implements state.Shared. Under fail open, a claim Redis cannot
// take is kept in memory alone, with versions 0.
func (f *Fallback) Claim(ctx context.Context, cs []state.Change) ([]state.Version, error) {
	if len(cs) == 0 {
		return nil, nil // asks nothing of Redis, so says nothing about it
	}
	var wrote []state.Version
	err := f.call(ctx, func(ctx context.Context) (err error) {
		wrote, err = f.redis.Claim(ctx, cs)
		return err
	})
	switch {
	case err == nil:
		f.mirror(ctx, cs)
		return wrote, nil
	case errors.Is(err, state.ErrConflict):
		f.metrics.conflicts.Inc()
		return nil, err
	case f.failOpen && errors.Is(err, ErrUnavailable):
		f.mirror(ctx, cs)
		f.without(len(cs))
		return make([]state.Version, len(cs)), nil
	case errors.Is(err, ErrUnavailable):
		f.without(len(cs))
	}
	return nil, err
}

func (f *Fallback) mirror(ctx context.Context, cs []state.Change) {
	for _, c := range cs {
		if c.Raw != nil {
			f.keepRaw(c.Key, c.Raw)
			continue
		}
		_ = f.local.Put(ctx, c.Key, c.Entry)
	}
}

// keepRaw mirrors opaque data; empty data is none.
func (f *Fallback) keepRaw(key string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(data) == 0 {
		delete(f.raw, key)
		return
	}
	f.raw[key] = data
}

// LoadRaw implements state.Shared, with Load's policy.
func (f *Fallback) LoadRaw(ctx context.Context, key string) (data []byte, v state.Version, err error) {
	err = f.call(ctx, func(ctx context.Context) error {
		data, v, err = f.redis.LoadRaw(ctx, key)
		return err
	})
	switch {
	case err == nil:
		f.keepRaw(key, data)
		return data, v, nil
	case f.failOpen && errors.Is(err, ErrUnavailable):
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.raw[key], 0, nil
	case errors.Is(err, ErrUnavailable):
		f.without(1)
	}
	return nil, 0, err
}

// Release implements state.Shared. Memory gets the entries read back in
// any case; Redis only where the claim reached it (a version above 0).
func (f *Fallback) Release(ctx context.Context, cs []state.Change, wrote []state.Version) (int, error) {
	var shared []state.Change
	var versions []state.Version
	for i, c := range cs {
		switch {
		case c.Raw != nil:
			f.keepRaw(c.Key, c.OldRaw)
		case c.Old != nil:
			_ = f.local.Put(ctx, c.Key, *c.Old)
		default:
			_ = f.local.Delete(ctx, c.Key)
		}
		if i < len(wrote) && wrote[i] > 0 {
			shared, versions = append(shared, c), append(versions, wrote[i])
		}
	}
	if len(shared) == 0 {
		return 0, nil
	}
	var moved int
	err := f.call(ctx, func(ctx context.Context) (err error) {
		moved, err = f.redis.Release(ctx, shared, versions)
		return err
	})
	if err != nil {
		f.metrics.unreleased.Add(float64(len(shared)))
		return len(shared), err
	}
	f.metrics.unreleased.Add(float64(moved))
	return moved, nil
}
