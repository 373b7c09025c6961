package redisstate

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/imalert/imalert/alert/delivery"
	"github.com/imalert/imalert/alert/state"
)

// periodScript returns the start of the open period (Unix ms) of
// KEYS[1], opening one at ARGV[1] lasting ARGV[2] ms when none is open
// or the one there is over.
var periodScript = redis.NewScript(`
local s = redis.call('GET', KEYS[1])
if s and tonumber(s) + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return s end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`)

// budgetSlack keeps a period's count a while past its end, for the
// storm pages of replicas that close it late.
const budgetSlack = time.Hour

// Budgets counts receivers' page budgets in Redis, under the Fallback's
// timeout, backoff and policy. Keys, under the prefix and "bud:":
// "RECEIVER" holds the open period's start (Unix ms, expiring with the
// period), and "RECEIVER:START" the pages counted in it, up to the
// budget; what the
// period held, under "RECEIVER:START:": "ids" (a set of the pages held),
// "held" (a hash of counts), "groups" and "senders" (hashes of counts by
// name, bounded), and "storm", the claim of its storm page.
type Budgets struct {
	f      *Fallback
	rdb    redis.UniversalClient
	prefix string
	// token names this process in its storm claims; lease is how long
	// one holds.
	token string
	lease time.Duration
}

var _ delivery.SharedBudgets = (*Budgets)(nil)

// SharedBudgets returns the budgets shared through st, the store Open
// returned; nil for the memory backend.
func SharedBudgets(st state.Store) delivery.SharedBudgets {
	f, ok := st.(*Fallback)
	if !ok {
		return nil
	}
	return &Budgets{f: f, rdb: f.redis.rdb, prefix: f.redis.prefix[:len(f.redis.prefix)-len("s:")] + "bud:", token: newToken(), lease: claimLease}
}

func (b *Budgets) count(receiver string, start time.Time) string {
	return b.prefix + receiver + ":" + strconv.FormatInt(start.UnixMilli(), 10)
}

// Period implements delivery.SharedBudgets.
func (b *Budgets) Period(ctx context.Context, receiver string, now time.Time, per time.Duration) (time.Time, error) {
	var ms int64
	err := b.f.call(ctx, func(ctx context.Context) (err error) {
		ms, err = periodScript.Run(ctx, b.rdb, []string{b.prefix + receiver}, now.UnixMilli(), per.Milliseconds()).Int64()
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms).UTC(), nil
}

// takeScript counts one page in KEYS[1] unless it counts ARGV[1] pages
// already (then it returns ARGV[1]+1, counting nothing), and keeps the
// count ARGV[2] ms.
var takeScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return tonumber(ARGV[1]) + 1 end
n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n`)

// Take implements delivery.SharedBudgets: held pages are not counted, so
// that a place given back (Give) is taken by the next page.
func (b *Budgets) Take(ctx context.Context, receiver string, start time.Time, per time.Duration, pages int) (int, error) {
	var n int64
	err := b.f.call(ctx, func(ctx context.Context) (err error) {
		n, err = takeScript.Run(ctx, b.rdb, []string{b.count(receiver, start)}, pages, (per + budgetSlack).Milliseconds()).Int64()
		return err
	})
	return int(n), err
}

// giveScript takes one from the count KEYS[1] if it is above zero (a
// count expired with its period is left alone).
var giveScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0`)

// Give implements delivery.SharedBudgets.
func (b *Budgets) Give(ctx context.Context, receiver string, start time.Time) error {
	return b.f.call(ctx, func(ctx context.Context) error {
		return giveScript.Run(ctx, b.rdb, []string{b.count(receiver, start)}).Err()
	})
}

// FailOpen implements delivery.SharedBudgets.
func (b *Budgets) FailOpen() bool { return b.f.failOpen }
