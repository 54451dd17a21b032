// Package ledger owns the gateway's budget and trial counters in Redis: the per-agent daily
// spend, the platform's monthly spend, each customer's monthly spend and each trial user's
// daily task count.
//
// OPA decides the limits; the ledger enforces them. Reserve checks every cap and charges
// the request in one Lua script, one round trip, so two concurrent requests can never both
// take the last unit and a refused request is never charged. Money is counted in integer
// micro-dollars. Counters live in period-scoped keys that expire by themselves a day after
// their period ends:
//
//	<prefix>budget:agent:<agent>:<YYYY-MM-DD>
//	<prefix>budget:platform:<YYYY-MM>
//	<prefix>budget:customer:<customer>:<YYYY-MM>
//	<prefix>trial:tasks:<user>:<YYYY-MM-DD>
//
// Periods are UTC days and calendar months. Ids from tokens are used as they are when short
// and plain, and hashed otherwise (see keyID). One script touches several keys, so on Redis
// Cluster the prefix must carry a hash tag, e.g. "{waooaw}:", to keep them in one slot.
//
// The script is sent by its SHA; only the requests in flight when Redis has lost its script
// cache (a restart) take a second round trip, to send it with its source. The scripts of
// concurrent requests share round trips (see batch.go): each request's script is still its
// own atomic EVALSHA, answered to it alone; a request that finds every round trip busy waits
// for one to come back and then goes with the others that queued meanwhile.
//
// Every Redis failure is returned wrapped in ErrUnavailable, so the gateway can apply
// BUDGET_FAIL_MODE. The gateway should call with a context deadline of about 150 ms and a
// client built from ClientOptions, so that a dead Redis is answered within 200 ms.
package ledger

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable wraps every failure to reach or use Redis.
var ErrUnavailable = errors.New("budget store unavailable")

// Limits are the caps that apply to one request, in micro-dollars (and tasks).
type Limits struct {
	CostMicros            int64 // cost of this request
	AgentDailyMicros      int64 // cap per agent per UTC day
	PlatformMonthlyMicros int64 // cap for the platform per calendar month (UTC)
	TrialTasksPerDay      int64 // cap of trial tasks per user per UTC day; used only for a trial task
}

// Request says whose counters a request touches.
type Request struct {
	AgentKey   string // the token's agent_id, else sub
	CustomerID string // "" when none; the customer's monthly spend is tracked, not capped
	UserID     string // whose trial tasks are counted
	TrialTask  bool   // a trial user's non-GET request: counts one task
	Now        time.Time
}

// Denial names the limit that refused a request.
type Denial string

// The limits that can refuse a request, checked in this order.
const (
	None           Denial = ""
	TrialLimit     Denial = "trial-limit"
	AgentBudget    Denial = "agent-budget"
	PlatformBudget Denial = "platform-budget"
)

// Result is what Reserve did, and the counters as it left them.
type Result struct {
	Denied Denial // which limit refused the request; None when it was charged

	// Spend after this request, or as it stands when the request was refused. The customer's
	// is 0 when the request names no customer.
	AgentSpentMicros, PlatformSpentMicros, CustomerSpentMicros int64

	// The user's trial tasks today after this request (or as they stand when it was
	// refused); 0 when the request is no trial task.
	TrialTasks int64

	// When the refusing limit's period resets: the next UTC midnight for the daily limits,
	// the first of the next month (00:00 UTC) for the monthly one. Zero when charged.
	ResetAt time.Time
}

// RetryAfter returns the time from now until ResetAt, rounded up to whole seconds, for a
// Retry-After header; 0 when nothing was refused.
func (r Result) RetryAfter(now time.Time) time.Duration {
	if r.ResetAt.IsZero() {
		return 0
	}
	d := r.ResetAt.Sub(now)
	if d <= 0 {
		return 0
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// Ledger keeps the counters of one stack in Redis. It is safe for concurrent use.
type Ledger struct {
	rdb     redis.UniversalClient
	prefix  string
	reserve *reserveBatcher
}

//go:embed reserve.lua
var reserveLua string

// New returns a ledger keeping its counters in rdb under prefix (e.g. "waooaw:"), which
// separates stacks sharing one Redis.
func New(rdb redis.UniversalClient, prefix string) *Ledger {
	return &Ledger{rdb: rdb, prefix: prefix, reserve: newReserveBatcher(rdb, redis.NewScript(reserveLua))}
}

// Reserve checks every cap and, only when all pass, charges the request: the agent's day,
// the platform's month, the customer's month and, for a trial task, the user's task count.
// The checks run in the order trial task limit, agent budget, platform budget; the first
// that fails refuses the request and no counter changes. A cap is reached, not exceeded,
// by a request that brings the spend to exactly the cap.
func (l *Ledger) Reserve(ctx context.Context, req Request, lim Limits) (Result, error) {
	if err := validate(req, lim); err != nil {
		return Result{}, err
	}
	p := periodsAt(req.Now)
	k := l.keys(req, p)

	reply, err := l.reserve.run(ctx, k.list(), []any{
		lim.CostMicros,
		lim.AgentDailyMicros,
		lim.PlatformMonthlyMicros,
		lim.TrialTasksPerDay,
		p.dayExpireAt().UnixMilli(),
		p.monthExpireAt().UnixMilli(),
		flag(k.customer != ""),
		flag(k.trial != ""),
	})
	if err != nil {
		return Result{}, fmt.Errorf("%w: reserve: %w", ErrUnavailable, err)
	}
	if len(reply) != 5 {
		return Result{}, fmt.Errorf("%w: reserve: script answered %d values, want 5", ErrUnavailable, len(reply))
	}

	r := Result{
		AgentSpentMicros:    reply[1],
		PlatformSpentMicros: reply[2],
		CustomerSpentMicros: reply[3],
		TrialTasks:          reply[4],
	}
	switch reply[0] {
	case 0:
	case 1:
		r.Denied, r.ResetAt = TrialLimit, p.nextDay
	case 2:
		r.Denied, r.ResetAt = AgentBudget, p.nextDay
	case 3:
		r.Denied, r.ResetAt = PlatformBudget, p.nextMonth
	default:
		return Result{}, fmt.Errorf("%w: reserve: script answered denial %d", ErrUnavailable, reply[0])
	}
	return r, nil
}

// Spent reads the counters of req without charging anything; the trial task count is read
// when req.TrialTask is set. Denied and ResetAt stay zero.
func (l *Ledger) Spent(ctx context.Context, req Request) (Result, error) {
	if err := validateRequest(req); err != nil {
		return Result{}, err
	}
	k := l.keys(req, periodsAt(req.Now))
	var r Result
	counters := []*int64{&r.AgentSpentMicros, &r.PlatformSpentMicros}
	if k.customer != "" {
		counters = append(counters, &r.CustomerSpentMicros)
	}
	if k.trial != "" {
		counters = append(counters, &r.TrialTasks)
	}
	keys := k.list() // in the order of counters
	values, err := l.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return Result{}, fmt.Errorf("%w: read counters: %w", ErrUnavailable, err)
	}
	for i, v := range values {
		if v == nil {
			continue // no counter yet
		}
		s, _ := v.(string)
		if *counters[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return Result{}, fmt.Errorf("%w: read counter %s: not an integer", ErrUnavailable, keys[i])
		}
	}
	return r, nil
}

// Ping checks that Redis answers, for the gateway's /health.
func (l *Ledger) Ping(ctx context.Context) error {
	if err := l.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: ping: %w", ErrUnavailable, err)
	}
	return nil
}

func validate(req Request, lim Limits) error {
	if err := validateRequest(req); err != nil {
		return err
	}
	if lim.CostMicros < 0 || lim.AgentDailyMicros < 0 || lim.PlatformMonthlyMicros < 0 || lim.TrialTasksPerDay < 0 {
		return fmt.Errorf("ledger: negative limits %+v", lim)
	}
	return nil
}

// validateRequest catches caller bugs that would silently merge or drop counters.
func validateRequest(req Request) error {
	switch {
	case req.AgentKey == "":
		return errors.New("ledger: request without an agent key")
	case req.TrialTask && req.UserID == "":
		return errors.New("ledger: trial task without a user id")
	case req.Now.IsZero():
		return errors.New("ledger: request without a time")
	}
	return nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
