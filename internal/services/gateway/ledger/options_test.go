package ledger_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waooaw/waooaw/internal/redistest"
	"github.com/waooaw/waooaw/internal/services/gateway/ledger"
)

func TestClientOptions(t *testing.T) {
	opts, err := ledger.ClientOptions("redis://:s3cret@redis.internal:6380/3")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Addr != "redis.internal:6380" || opts.Password != "s3cret" || opts.DB != 3 {
		t.Errorf("Addr, Password, DB = %q, %q, %d; want redis.internal:6380, s3cret, 3", opts.Addr, opts.Password, opts.DB)
	}
	// Fail fast: one dial attempt, no command retries, every wait within the request budget.
	if opts.DialTimeout != 100*time.Millisecond || opts.ReadTimeout != 150*time.Millisecond ||
		opts.WriteTimeout != 150*time.Millisecond || opts.PoolTimeout != 150*time.Millisecond {
		t.Errorf("timeouts dial %v read %v write %v pool %v; want 100ms, 150ms, 150ms, 150ms",
			opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout)
	}
	if opts.MaxRetries != -1 || opts.DialerRetries != 1 || !opts.ContextTimeoutEnabled {
		t.Errorf("MaxRetries %d, DialerRetries %d, ContextTimeoutEnabled %v; want -1, 1, true",
			opts.MaxRetries, opts.DialerRetries, opts.ContextTimeoutEnabled)
	}
	if opts.PoolSize != 64 || opts.MinIdleConns != 2 {
		t.Errorf("PoolSize %d, MinIdleConns %d; want 64, 2", opts.PoolSize, opts.MinIdleConns)
	}
}

func TestClientOptionsInvalid(t *testing.T) {
	for _, raw := range []string{
		"http://:s3cret@localhost:6379/0",
		"redis://:s3cret@localhost:63a9/0",
		"redis://:s3cret@localhost:6379/notadb",
		"redis://:s3cret@local host:6379/0",
		"",
	} {
		t.Run(raw, func(t *testing.T) {
			_, err := ledger.ClientOptions(raw)
			if err == nil {
				t.Fatal("no error")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "REDIS_URL: ") || strings.Contains(msg, "s3cret") {
				t.Errorf("error %q should name REDIS_URL and never quote the password", msg)
			}
		})
	}
}

func TestRedisDown(t *testing.T) {
	srv := redistest.New(t)
	opts, err := ledger.ClientOptions(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	// Count connection attempts: a retry, of the command or of the dial, shows as a second
	// one. No idle connections are kept, so the pool dials only for the test's calls.
	opts.MinIdleConns = 0
	var dials atomic.Int64
	dialer := &net.Dialer{Timeout: opts.DialTimeout}
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dialer.DialContext(ctx, network, addr)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	l := ledger.New(rdb, srv.Prefix())
	req := ledger.Request{AgentKey: "agent", Now: time.Now()}

	if _, err := l.Reserve(context.Background(), req, generous); err != nil {
		t.Fatalf("Reserve with Redis up: %v", err)
	}

	srv.Stop(t)
	calls := []struct {
		name string
		call func(context.Context) error
	}{
		{"Reserve", func(ctx context.Context) error { _, err := l.Reserve(ctx, req, generous); return err }},
		{"Spent", func(ctx context.Context) error { _, err := l.Spent(ctx, req); return err }},
		{"Ping", l.Ping},
		{"Reserve again", func(ctx context.Context) error { _, err := l.Reserve(ctx, req, generous); return err }},
	}
	for _, c := range calls {
		// No deadline: the call returns only once every attempt it makes is over, so the
		// count is complete.
		dials.Store(0)
		err := c.call(context.Background())
		if !errors.Is(err, ledger.ErrUnavailable) {
			t.Fatalf("%s with Redis down: error %v, want one wrapping ErrUnavailable", c.name, err)
		}
		if n := dials.Load(); n > 1 {
			t.Errorf("%s with Redis down tried to connect %d times, want at most once (no retries)", c.name, n)
		}
	}
	// With the deadline the gateway is advised to use.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = l.Reserve(ctx, req, generous)
	if !errors.Is(err, ledger.ErrUnavailable) {
		t.Fatalf("Reserve with Redis down and a deadline: error %v, want one wrapping ErrUnavailable", err)
	}
	t.Logf("Reserve with Redis down: %v after %v", err, time.Since(start))

	srv.Start(t)
	// The same ledger recovers. The pool may need a moment to notice; poll, but never for
	// longer than the hang guard.
	var r ledger.Result
	for deadline := time.Now().Add(30 * time.Second); ; {
		r, err = l.Reserve(context.Background(), req, generous)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Reserve after Redis came back: %v", err)
	}
	// The restarted server kept nothing, so the count starts over.
	if r.Denied != ledger.None || r.AgentSpentMicros != generous.CostMicros {
		t.Errorf("Reserve after restart = %+v, want a charge of %d on fresh counters", r, generous.CostMicros)
	}
}
