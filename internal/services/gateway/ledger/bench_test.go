package ledger_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waooaw/waooaw/internal/redistest"
	"github.com/waooaw/waooaw/internal/services/gateway/ledger"
)

// BenchmarkReserve measures one charged request: a round trip running the script, with the
// client options the gateway uses, from parallel goroutines, each its own agent and customer.
func BenchmarkReserve(b *testing.B) {
	srv := redistest.New(b)
	opts, err := ledger.ClientOptions(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	b.Cleanup(func() { rdb.Close() })
	l := ledger.New(rdb, srv.Prefix())
	lim := ledger.Limits{CostMicros: 1, AgentDailyMicros: 1 << 50, PlatformMonthlyMicros: 1 << 50}
	now := time.Now()
	var worker atomic.Int64

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := strconv.FormatInt(worker.Add(1), 10)
		req := ledger.Request{AgentKey: "agent-" + id, CustomerID: "customer-" + id, Now: now}
		for pb.Next() {
			r, err := l.Reserve(context.Background(), req, lim)
			if err != nil || r.Denied != ledger.None {
				b.Fatalf("Reserve = %+v, %v", r, err)
			}
		}
	})
}
