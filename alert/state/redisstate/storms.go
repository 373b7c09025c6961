package redisstate

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/notify"
)

// claimLease is how long a claim of a storm page or a silence's end
// notice holds before another replica may take it over: longer than a
// claim's outbox commit takes.
const claimLease = 30 * time.Second

// foldScript adds one held page to a period's counts, once per page:
// KEYS are the claim, "ids", "held", "groups" and "senders"; ARGV the
// page's id, the TTL (ms), the most names a hash of names keeps, then
// three lists, each its length then field and increment pairs: "held",
// "groups", "senders". A name past the bound counts in "held" under "og"
// or "os". It returns -1 when the storm page is claimed, 0 when the page
// was added already, 1 when added.
var foldScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
local i = 4
local function add(key, other)
  local n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do
    local f, by = ARGV[i], ARGV[i + 1]; i = i + 2
    if other and redis.call('HEXISTS', key, f) == 0 and redis.call('HLEN', key) >= tonumber(ARGV[3]) then
      redis.call('HINCRBY', KEYS[3], other, by)
    else
      redis.call('HINCRBY', key, f, by)
    end
  end
end
add(KEYS[3], nil)
add(KEYS[4], 'og')
add(KEYS[5], 'os')
for k = 2, 5 do redis.call('PEXPIRE', KEYS[k], ARGV[2]) end
return 1`)

// leaseScript claims KEYS[1] for the process named ARGV[1] for ARGV[2]
// ms: 1 when it is this process's (won now, or again), 0 while another's
// lease runs, 2 when it is marked sent. A claim held for longer than a
// lease was made by an earlier version, which kept its claims without a
// lease once it had committed: it counts as sent.
var leaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == 'sent' then return 2 end
if v and v ~= ARGV[1] then
  if redis.call('PTTL', KEYS[1]) > tonumber(ARGV[2]) then return 2 end
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// lease runs leaseScript on key for this process, under the Fallback.
func lease(ctx context.Context, f *Fallback, rdb redis.UniversalClient, key, token string, d time.Duration) (int64, error) {
	var r int64
	err := f.call(ctx, func(ctx context.Context) (err error) {
		r, err = leaseScript.Run(ctx, rdb, []string{key}, token, d.Milliseconds()).Int64()
		return err
	})
	return r, err
}

func (b *Budgets) held(receiver string, start time.Time, part string) string {
	return b.count(receiver, start) + ":" + part
}

// Fold implements delivery.SharedBudgets: one script, one round trip.
func (b *Budgets) Fold(ctx context.Context, receiver string, start time.Time, per time.Duration, id string, h *delivery.HeldPages) (bool, error) {
	keys := []string{b.held(receiver, start, "storm"), b.held(receiver, start, "ids"), b.held(receiver, start, "held"),
		b.held(receiver, start, "groups"), b.held(receiver, start, "senders")}
	args := []any{id, (per + budgetSlack).Milliseconds(), notify.MaxDigestKeys}
	args = appendCounts(args, heldFields(h))
	args = appendCounts(args, h.Digest.Groups)
	args = appendCounts(args, h.Digest.Senders)
	var r int64
	err := b.f.call(ctx, func(ctx context.Context) (err error) {
		r, err = foldScript.Run(ctx, b.rdb, keys, args...).Int64()
		return err
	})
	return r >= 0, err
}

func appendCounts(args []any, m map[string]int) []any {
	args = append(args, len(m))
	for k, n := range m {
		args = append(args, k, n)
	}
	return args
}

// heldFields flattens h's counts but groups and senders into the fields
// of a "held" hash.
func heldFields(h *delivery.HeldPages) map[string]int {
	m := map[string]int{"held": h.Held, "events": h.Events, "total": h.Digest.Total,
		"og": h.Digest.OtherGroups, "os": h.Digest.OtherSenders}
	for prefix, counts := range map[string]map[string]int{"r:": h.ByRule, "s:": h.Severities, "c:": h.Digest.ByCode, "t:": h.Digest.ByGroupType} {
		for k, n := range counts {
			m[prefix+k] = n
		}
	}
	return m
}

// Folded implements delivery.SharedBudgets.
func (b *Budgets) Folded(ctx context.Context, receiver string, start time.Time, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make([]*redis.BoolCmd, len(ids))
	err := b.f.call(ctx, func(ctx context.Context) error {
		_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = p.SIsMember(ctx, b.held(receiver, start, "ids"), id)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		out[id] = cmds[i].Val()
	}
	return out, nil
}

// ClaimStorm implements delivery.SharedBudgets.
func (b *Budgets) ClaimStorm(ctx context.Context, receiver string, start time.Time) (delivery.StormClaim, error) {
	r, err := lease(ctx, b.f, b.rdb, b.held(receiver, start, "storm"), b.token, b.lease)
	switch r {
	case 1:
		return delivery.StormWon, err
	case 2:
		return delivery.StormSent, err
	}
	return delivery.StormTaken, err
}

// Held implements delivery.SharedBudgets.
func (b *Budgets) Held(ctx context.Context, receiver string, start time.Time) (*delivery.HeldPages, int, error) {
	var held, groups, senders *redis.MapStringStringCmd
	var sent *redis.StringCmd
	err := b.f.call(ctx, func(ctx context.Context) error {
		_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			held = p.HGetAll(ctx, b.held(receiver, start, "held"))
			groups = p.HGetAll(ctx, b.held(receiver, start, "groups"))
			senders = p.HGetAll(ctx, b.held(receiver, start, "senders"))
			sent = p.Get(ctx, b.count(receiver, start))
			return nil
		})
		if errors.Is(err, redis.Nil) {
			return nil // nothing counted
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	h := delivery.NewHeldPages()
	readHeld(h, held.Val())
	readCounts(h.Digest.Groups, groups.Val())
	readCounts(h.Digest.Senders, senders.Val())
	n, _ := sent.Int()
	return h, n, nil
}

// readHeld is heldFields backwards.
func readHeld(h *delivery.HeldPages, fields map[string]string) {
	d := h.Digest
	ints := map[string]*int{"held": &h.Held, "events": &h.Events, "total": &d.Total, "og": &d.OtherGroups, "os": &d.OtherSenders}
	maps := map[string]map[string]int{"r:": h.ByRule, "s:": h.Severities, "c:": d.ByCode, "t:": d.ByGroupType}
	for f, v := range fields {
		n, err := strconv.Atoi(v)
		if err != nil {
			continue
		}
		if p, ok := ints[f]; ok {
			*p = n
			continue
		}
		if len(f) > 2 && maps[f[:2]] != nil {
			maps[f[:2]][f[2:]] = n
		}
	}
}

func readCounts(m map[string]int, fields map[string]string) {
	for k, v := range fields {
		if n, err := strconv.Atoi(v); err == nil && len(m) < notify.MaxDigestKeys {
			m[k] = n
		}
	}
}

// StormSent implements delivery.SharedBudgets.
func (b *Budgets) StormSent(ctx context.Context, receiver string, start time.Time) error {
	return b.f.call(ctx, func(ctx context.Context) error {
		return b.rdb.Set(ctx, b.held(receiver, start, "storm"), "sent", budgetSlack).Err()
	})
}
