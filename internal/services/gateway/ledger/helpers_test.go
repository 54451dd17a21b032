package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waooaw/waooaw/internal/redistest"
	"github.com/waooaw/waooaw/internal/services/gateway/ledger"
)

// testEnv is a ledger on a real Redis, with a client to look at its keys.
type testEnv struct {
	ledger *ledger.Ledger
	rdb    *redis.Client
	srv    *redistest.Server
	prefix string
}

// newTestEnv gives the test a ledger on its own Redis (or its own prefix on a shared one).
// The client keeps go-redis's default timeouts: these tests are about counting, and must
// not fail because a loaded machine answered slower than the gateway's budget.
func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	srv := redistest.New(t)
	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return &testEnv{ledger: ledger.New(rdb, srv.Prefix()), rdb: rdb, srv: srv, prefix: srv.Prefix()}
}

// withPrefix returns a ledger on the same Redis keeping its counters apart from the others.
func (e *testEnv) withPrefix(name string) *testEnv {
	prefix := e.prefix + name + ":"
	return &testEnv{ledger: ledger.New(e.rdb, prefix), rdb: e.rdb, srv: e.srv, prefix: prefix}
}

func (e *testEnv) reserve(t testing.TB, req ledger.Request, lim ledger.Limits) ledger.Result {
	t.Helper()
	r, err := e.ledger.Reserve(context.Background(), req, lim)
	if err != nil {
		t.Fatalf("Reserve(%+v, %+v): %v", req, lim, err)
	}
	return r
}

func (e *testEnv) spent(t testing.TB, req ledger.Request) ledger.Result {
	t.Helper()
	r, err := e.ledger.Spent(context.Background(), req)
	if err != nil {
		t.Fatalf("Spent(%+v): %v", req, err)
	}
	return r
}

// snapshot returns every key under the env's prefix with its value and absolute expiry.
func (e *testEnv) snapshot(t testing.TB) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys := map[string]string{}
	iter := e.rdb.Scan(ctx, 0, e.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		value, err := e.rdb.Get(ctx, key).Result()
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		keys[key] = fmt.Sprintf("%s (expires %v)", value, e.expireTime(t, key))
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	return keys
}

// expireTime returns when key expires; PEXPIRETIME (Redis 7) answers exactly, whatever
// the test's Now and however long the test took.
func (e *testEnv) expireTime(t testing.TB, key string) time.Time {
	t.Helper()
	ms, err := e.rdb.Do(context.Background(), "PEXPIRETIME", key).Int64()
	if err != nil {
		t.Fatalf("PEXPIRETIME %s: %v", key, err)
	}
	if ms < 0 {
		t.Fatalf("PEXPIRETIME %s = %d: key missing or without expiry", key, ms)
	}
	return time.UnixMilli(ms).UTC()
}

func (e *testEnv) exists(t testing.TB, key string) bool {
	t.Helper()
	n, err := e.rdb.Exists(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("EXISTS %s: %v", key, err)
	}
	return n == 1
}

// generous limits that no test reaches unless it means to.
var generous = ledger.Limits{
	CostMicros:            1_000,
	AgentDailyMicros:      1_000_000_000,
	PlatformMonthlyMicros: 1_000_000_000,
	TrialTasksPerDay:      1_000_000,
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
