package local_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waooaw/waooaw/internal/services/gateway/ledger"
	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/stack/local"
)

// startRedis runs the embedded server on a free loopback port for the length of the test and
// returns a client on it.
func startRedis(t *testing.T) (*local.RedisServer, *redis.Client) {
	t.Helper()
	srv, err := local.ListenRedis("127.0.0.1:0", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	opts, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return srv, rdb
}

func TestServeRedisAnswersUntilCancelled(t *testing.T) {
	// Find a free port, then let ServeRedis bind it by address as the supervisor does.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- local.ServeRedis(ctx, addr, "", nil) }()

	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := rdb.Ping(context.Background()).Err()
		if err == nil {
			break
		}
		select {
		case err := <-served:
			t.Fatalf("ServeRedis returned before answering: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("PING %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	cancel()
	if err := <-served; err != nil {
		t.Fatalf("ServeRedis: %v", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after ServeRedis returned", addr)
	}
}

func TestServeRedisPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	err = local.ServeRedis(context.Background(), l.Addr().String(), "", nil)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("ServeRedis on a taken port = %v, want an error wrapping EADDRINUSE", err)
	}
}

// The gateway's budget ledger must work on the embedded server as on redis-server: its Lua
// check-and-reserve script is the part most likely to meet a gap in an emulation.

var generous = ledger.Limits{
	CostMicros:            1_000,
	AgentDailyMicros:      1_000_000_000,
	PlatformMonthlyMicros: 1_000_000_000,
	TrialTasksPerDay:      1_000_000,
}

func TestLedgerOnEmbeddedRedis(t *testing.T) {
	now := time.Now().UTC()
	tests := []struct {
		name  string
		lim   ledger.Limits
		reqs  []ledger.Request
		want  []ledger.Result // one per request
		spent ledger.Request  // whose counters to read at the end
		final ledger.Result   // as Spent reads them at the end
	}{
		{
			name: "allowed requests are charged to agent, platform and customer",
			lim:  generous,
			reqs: []ledger.Request{
				{AgentKey: "a1", CustomerID: "c1", Now: now},
				{AgentKey: "a2", Now: now},
				{AgentKey: "a1", CustomerID: "c1", Now: now},
			},
			want: []ledger.Result{
				{AgentSpentMicros: 1_000, PlatformSpentMicros: 1_000, CustomerSpentMicros: 1_000},
				{AgentSpentMicros: 1_000, PlatformSpentMicros: 2_000},
				{AgentSpentMicros: 2_000, PlatformSpentMicros: 3_000, CustomerSpentMicros: 2_000},
			},
			spent: ledger.Request{AgentKey: "a1", CustomerID: "c1", Now: now},
			final: ledger.Result{AgentSpentMicros: 2_000, PlatformSpentMicros: 3_000, CustomerSpentMicros: 2_000},
		},
		{
			name: "agent cap reached exactly, then refused and not charged",
			lim:  ledger.Limits{CostMicros: 1_000, AgentDailyMicros: 2_000, PlatformMonthlyMicros: 1_000_000, TrialTasksPerDay: 10},
			reqs: []ledger.Request{
				{AgentKey: "a1", CustomerID: "c1", Now: now},
				{AgentKey: "a1", CustomerID: "c1", Now: now},
				{AgentKey: "a1", CustomerID: "c1", Now: now},
			},
			want: []ledger.Result{
				{AgentSpentMicros: 1_000, PlatformSpentMicros: 1_000, CustomerSpentMicros: 1_000},
				{AgentSpentMicros: 2_000, PlatformSpentMicros: 2_000, CustomerSpentMicros: 2_000},
				{Denied: ledger.AgentBudget, AgentSpentMicros: 2_000, PlatformSpentMicros: 2_000, CustomerSpentMicros: 2_000, ResetAt: nextDay(now)},
			},
			spent: ledger.Request{AgentKey: "a1", CustomerID: "c1", Now: now},
			final: ledger.Result{AgentSpentMicros: 2_000, PlatformSpentMicros: 2_000, CustomerSpentMicros: 2_000},
		},
		{
			name: "platform cap refuses every agent and charges none",
			lim:  ledger.Limits{CostMicros: 1_500, AgentDailyMicros: 1_000_000, PlatformMonthlyMicros: 2_000, TrialTasksPerDay: 10},
			reqs: []ledger.Request{
				{AgentKey: "a1", Now: now},
				{AgentKey: "a2", Now: now},
			},
			want: []ledger.Result{
				{AgentSpentMicros: 1_500, PlatformSpentMicros: 1_500},
				{Denied: ledger.PlatformBudget, PlatformSpentMicros: 1_500, ResetAt: nextMonth(now)},
			},
			spent: ledger.Request{AgentKey: "a2", Now: now},
			final: ledger.Result{PlatformSpentMicros: 1_500},
		},
		{
			name: "trial daily task limit, checked before the budget",
			lim:  ledger.Limits{CostMicros: 1_000, AgentDailyMicros: 1_000_000, PlatformMonthlyMicros: 1_000_000, TrialTasksPerDay: 2},
			reqs: []ledger.Request{
				{AgentKey: "a1", UserID: "u1", TrialTask: true, Now: now},
				{AgentKey: "a1", UserID: "u1", TrialTask: true, Now: now},
				{AgentKey: "a1", UserID: "u1", TrialTask: true, Now: now},
				{AgentKey: "a1", UserID: "u2", TrialTask: true, Now: now},
				{AgentKey: "a1", UserID: "u1", Now: now}, // a GET: no task, still allowed
			},
			want: []ledger.Result{
				{AgentSpentMicros: 1_000, PlatformSpentMicros: 1_000, TrialTasks: 1},
				{AgentSpentMicros: 2_000, PlatformSpentMicros: 2_000, TrialTasks: 2},
				{Denied: ledger.TrialLimit, AgentSpentMicros: 2_000, PlatformSpentMicros: 2_000, TrialTasks: 2, ResetAt: nextDay(now)},
				{AgentSpentMicros: 3_000, PlatformSpentMicros: 3_000, TrialTasks: 1},
				{AgentSpentMicros: 4_000, PlatformSpentMicros: 4_000},
			},
			spent: ledger.Request{AgentKey: "a1", UserID: "u1", TrialTask: true, Now: now},
			final: ledger.Result{AgentSpentMicros: 4_000, PlatformSpentMicros: 4_000, TrialTasks: 2},
		},
	}
	_, rdb := startRedis(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ledger.New(rdb, t.Name()+":")
			for i, req := range tt.reqs {
				got, err := l.Reserve(context.Background(), req, tt.lim)
				if err != nil {
					t.Fatalf("request %d: Reserve: %v", i, err)
				}
				if got != tt.want[i] {
					t.Fatalf("request %d: Reserve = %+v, want %+v", i, got, tt.want[i])
				}
			}
			got, err := l.Spent(context.Background(), tt.spent)
			if err != nil {
				t.Fatalf("Spent: %v", err)
			}
			if got != tt.final {
				t.Fatalf("Spent = %+v, want %+v", got, tt.final)
			}
		})
	}
}

func TestLedgerCountersExpireOnEmbeddedRedis(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	now := time.Now().UTC()
	l := ledger.New(rdb, "ttl:")
	req := ledger.Request{AgentKey: "a1", CustomerID: "c1", UserID: "u1", TrialTask: true, Now: now}
	if _, err := l.Reserve(ctx, req, generous); err != nil {
		t.Fatal(err)
	}

	// Each counter expires a day after its period ends, as ledger documents.
	day, month := now.Format(time.DateOnly), now.Format("2006-01")
	dayExpiry, monthExpiry := nextDay(now).Add(24*time.Hour), nextMonth(now).Add(24*time.Hour)
	want := map[string]time.Time{
		"ttl:budget:agent:a1:" + day:      dayExpiry,
		"ttl:budget:platform:" + month:    monthExpiry,
		"ttl:budget:customer:c1:" + month: monthExpiry,
		"ttl:trial:tasks:u1:" + day:       dayExpiry,
	}
	keys, err := rdb.Keys(ctx, "ttl:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("keys = %v, want %d keys", keys, len(want))
	}
	for key, wantExpiry := range want {
		ms, err := rdb.Do(ctx, "PEXPIRETIME", key).Int64()
		if err != nil {
			t.Fatalf("PEXPIRETIME %s: %v", key, err)
		}
		// miniredis keeps a TTL rather than a deadline and derives the deadline from its
		// clock, so it may be off by a rounding millisecond.
		if got := time.UnixMilli(ms).UTC(); got.Sub(wantExpiry).Abs() > time.Second {
			t.Errorf("%s expires at %v, want %v", key, got, wantExpiry)
		}
	}

	// A second charge keeps the expiry the first one set.
	if _, err := l.Reserve(ctx, req, generous); err != nil {
		t.Fatal(err)
	}
	ms, err := rdb.Do(ctx, "PEXPIRETIME", "ttl:budget:agent:a1:"+day).Int64()
	if err != nil {
		t.Fatal(err)
	}
	if got := time.UnixMilli(ms).UTC(); got.Sub(dayExpiry).Abs() > time.Second {
		t.Errorf("after a second charge the agent counter expires at %v, want %v", got, dayExpiry)
	}
}

// TTLs run by the wall clock on the embedded server (miniredis's default is a frozen clock).
func TestEmbeddedRedisExpiresByTheClock(t *testing.T) {
	_, rdb := startRedis(t)
	ctx := context.Background()
	if err := rdb.Set(ctx, "short-lived", "1", 50*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := rdb.Exists(ctx, "short-lived").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a key with a 50 ms TTL still exists after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The script is atomic on the embedded server too: concurrent requests never overspend.
func TestLedgerConcurrentReservesOnEmbeddedRedis(t *testing.T) {
	_, rdb := startRedis(t)
	l := ledger.New(rdb, "race:")
	now := time.Now().UTC()
	lim := ledger.Limits{CostMicros: 1_000, AgentDailyMicros: 10_000, PlatformMonthlyMicros: 1_000_000, TrialTasksPerDay: 10}
	const requests = 40

	var wg sync.WaitGroup
	var mu sync.Mutex
	charged := 0
	for range requests {
		wg.Go(func() {
			r, err := l.Reserve(context.Background(), ledger.Request{AgentKey: "a1", Now: now}, lim)
			if err != nil {
				t.Error(err)
				return
			}
			if r.Denied == ledger.None {
				mu.Lock()
				charged++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if charged != 10 {
		t.Fatalf("%d of %d concurrent requests charged, want exactly 10", charged, requests)
	}
	got, err := l.Spent(context.Background(), ledger.Request{AgentKey: "a1", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got.AgentSpentMicros != 10_000 {
		t.Fatalf("agent spent %d, want 10000", got.AgentSpentMicros)
	}
}

func nextDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

func nextMonth(t time.Time) time.Time {
	y, m, _ := t.Date()
	return time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
}

func TestEmbeddedRedisRequiresItsPassword(t *testing.T) {
	const password = "s3cret-of-the-project"
	srv, err := local.ListenRedis("127.0.0.1:0", password, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-served })

	tests := []struct {
		name     string
		password string
		wantErr  string // empty: the command works
	}{
		{"no password", "", "NOAUTH"},
		{"wrong password", "guess", "WRONGPASS"},
		{"the password", password, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: tt.password, MaxRetries: -1})
			defer rdb.Close()
			err := rdb.Set(context.Background(), "waooaw:trial:reset", "0", 0).Err()
			if tt.wantErr == "" && err != nil {
				t.Errorf("SET with the password: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("SET: %v, want an error with %s", err, tt.wantErr)
			}
			probe := stack.RedisProbe{Addr: srv.Addr(), Password: tt.password}
			if err := probe.Check(context.Background()); (err == nil) != (tt.wantErr == "") {
				t.Errorf("RedisProbe with %q: %v", tt.password, err)
			}
		})
	}
}
