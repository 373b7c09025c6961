package redisstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imalert/imalert/alert/silence"
	"github.com/imalert/imalert/alert/state"
)

// silenceLife is how long Redis keeps what a silence counted: past the
// longest a silence lasts and the week it stays listed after.
const silenceLife = 30 * 24 * time.Hour

// Silences shares silences between replicas in Redis, under the
// Fallback's timeout, backoff and policy. Keys, under the prefix and
// "sil:": "defs", a hash of every definition (JSON) by ID, and "v", its
// version; "n", a hash of counts by ID, and "nv", its version; per
// silence, "t:ID" (a sorted set of its first and last event, Unix ms),
// "g:ID" (a HyperLogLog of its groups), "r:ID" and "c:ID" (sets of its
// rules and receivers), and "end:ID", the claim of its end notice: the
// claimer's token for a lease, then "sent".
type Silences struct {
	f      *Fallback
	rdb    redis.UniversalClient
	prefix string
	// token names this process in its end claims, so that a claim it
	// won and could not commit is its own again next batch; lease is how
	// long a claim not confirmed sent holds.
	token string
	lease time.Duration
}

var _ silence.Shared = (*Silences)(nil)

// SharedSilences returns the silences shared through st, the store Open
// returned; nil for the memory backend.
func SharedSilences(st state.Store) silence.Shared {
	f, ok := st.(*Fallback)
	if !ok {
		return nil
	}
	return &Silences{f: f, rdb: f.redis.rdb, prefix: f.redis.prefix[:len(f.redis.prefix)-len("s:")] + "sil:", token: newToken(), lease: claimLease}
}

// newToken names this process in the claims it makes.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Silences) key(parts ...string) string {
	k := s.prefix
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

// Put implements silence.Shared.
func (s *Silences) Put(ctx context.Context, d silence.Def) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.f.call(ctx, func(ctx context.Context) error {
		_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, s.key("defs"), d.ID, data)
			p.Incr(ctx, s.key("v"))
			return nil
		})
		return err
	})
}

// Versions implements silence.Shared.
func (s *Silences) Versions(ctx context.Context) (defs, counts int64, err error) {
	var vals []any
	err = s.f.call(ctx, func(ctx context.Context) error {
		vals, err = s.rdb.MGet(ctx, s.key("v"), s.key("nv")).Result()
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return atoi(vals[0]), atoi(vals[1]), nil
}

func atoi(v any) int64 {
	str, _ := v.(string)
	n, _ := strconv.ParseInt(str, 10, 64)
	return n
}

// Defs implements silence.Shared. Definitions ended more than
// silenceLife ago are dropped on the way.
func (s *Silences) Defs(ctx context.Context) ([]silence.Def, error) {
	var all map[string]string
	err := s.f.call(ctx, func(ctx context.Context) (err error) {
		all, err = s.rdb.HGetAll(ctx, s.key("defs")).Result()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]silence.Def, 0, len(all))
	var old []string
	for id, data := range all {
		var d silence.Def
		if err := json.Unmarshal([]byte(data), &d); err != nil || d.ID != id {
			continue
		}
		if time.Since(d.EndsAt) > silenceLife {
			old = append(old, id)
			continue
		}
		out = append(out, d)
	}
	if len(old) > 0 {
		_ = s.f.call(ctx, func(ctx context.Context) error { return s.rdb.HDel(ctx, s.key("defs"), old...).Err() })
	}
	return out, nil
}

// Tally implements silence.Shared: one transaction for the batch.
func (s *Silences) Tally(ctx context.Context, delta map[string]*silence.Stats) error {
	return s.f.call(ctx, func(ctx context.Context) error {
		_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for id, d := range delta {
				p.HIncrBy(ctx, s.key("n"), id, int64(d.Events))
				t := s.key("t", id)
				if !d.First.IsZero() {
					p.ZAddLT(ctx, t, redis.Z{Score: float64(d.First.UnixMilli()), Member: "first"})
					p.ZAddGT(ctx, t, redis.Z{Score: float64(d.Last.UnixMilli()), Member: "last"})
				}
				p.Expire(ctx, t, silenceLife)
				addAll(ctx, p, s.key("g", id), d.Groups, p.PFAdd)
				addAll(ctx, p, s.key("r", id), d.Rules, p.SAdd)
				addAll(ctx, p, s.key("c", id), d.Receivers, p.SAdd)
			}
			p.Expire(ctx, s.key("n"), silenceLife)
			p.Incr(ctx, s.key("nv"))
			return nil
		})
		return err
	})
}

func addAll(ctx context.Context, p redis.Pipeliner, key string, names []string, add func(context.Context, string, ...any) *redis.IntCmd) {
	if len(names) == 0 {
		return
	}
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	add(ctx, key, args...)
	p.Expire(ctx, key, silenceLife)
}

// Totals implements silence.Shared.
func (s *Silences) Totals(ctx context.Context, ids []string) (map[string]silence.Totals, error) {
	type cmds struct {
		n    *redis.StringCmd
		t    *redis.ZSliceCmd
		g    *redis.IntCmd
		r, c *redis.StringSliceCmd
	}
	cs := make([]cmds, len(ids))
	err := s.f.call(ctx, func(ctx context.Context) error {
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cs[i] = cmds{n: p.HGet(ctx, s.key("n"), id), t: p.ZRangeWithScores(ctx, s.key("t", id), 0, -1),
					g: p.PFCount(ctx, s.key("g", id)), r: p.SMembers(ctx, s.key("r", id)), c: p.SMembers(ctx, s.key("c", id))}
			}
			return nil
		})
		if errors.Is(err, redis.Nil) {
			return nil // a silence that held nothing yet
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]silence.Totals, len(ids))
	for i, id := range ids {
		n, err := cs[i].n.Int()
		if err != nil {
			continue
		}
		t := silence.Totals{Events: n, Groups: int(cs[i].g.Val()), Rules: sorted(cs[i].r.Val()), Receivers: sorted(cs[i].c.Val())}
		for _, z := range cs[i].t.Val() {
			at := time.UnixMilli(int64(z.Score)).UTC()
			switch z.Member {
			case "first":
				t.First = at
			case "last":
				t.Last = at
			}
		}
		out[id] = t
	}
	return out, nil
}

// ClaimEnd implements silence.Shared: a lease, confirmed by EndSent.
// Under fail open, a Redis that does not answer leaves the notice to
// every replica that held something.
func (s *Silences) ClaimEnd(ctx context.Context, id string) (silence.EndClaim, error) {
	r, err := lease(ctx, s.f, s.rdb, s.key("end", id), s.token, s.lease)
	switch {
	case err == nil && r == 1:
		return silence.EndWon, nil
	case err == nil && r == 2:
		return silence.EndSent, nil
	case err == nil:
		return silence.EndTaken, nil
	case s.f.failOpen && errors.Is(err, ErrUnavailable):
		return silence.EndWon, nil
	}
	return silence.EndTaken, fmt.Errorf("silence end claim: %w", err)
}

// EndSent implements silence.Shared.
func (s *Silences) EndSent(ctx context.Context, id string) error {
	return s.f.call(ctx, func(ctx context.Context) error {
		return s.rdb.Set(ctx, s.key("end", id), "sent", silenceLife).Err()
	})
}

func sorted(names []string) []string {
	slices.Sort(names)
	return names
}
