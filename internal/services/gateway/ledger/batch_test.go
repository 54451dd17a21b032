package ledger_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/services/gateway/ledger"
)

// Concurrent requests share round trips; each must still be charged exactly once, also when
// Redis has lost the script and every batched EVALSHA comes back NOSCRIPT.
func TestReserveConcurrentAfterScriptFlush(t *testing.T) {
	e := newTestEnv(t)
	now := time.Now()
	req := ledger.Request{AgentKey: "agent", CustomerID: "customer", Now: now}
	e.reserve(t, req, generous) // the script is loaded
	for round := range 3 {
		if err := e.rdb.ScriptFlush(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		const requests = 40
		start := make(chan struct{})
		errs := make([]error, requests)
		var wg sync.WaitGroup
		for i := range requests {
			wg.Go(func() {
				<-start
				var r ledger.Result
				r, errs[i] = e.ledger.Reserve(context.Background(), req, generous)
				if errs[i] == nil && r.Denied != ledger.None {
					t.Errorf("round %d, request %d denied by %q", round, i, r.Denied)
				}
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, request %d: %v", round, i, err)
			}
		}
		want := generous.CostMicros * int64(1+(round+1)*requests)
		got := e.spent(t, req)
		if got.AgentSpentMicros != want || got.PlatformSpentMicros != want || got.CustomerSpentMicros != want {
			t.Fatalf("round %d: Spent = %+v, want %d on every counter (each request charged once)", round, got, want)
		}
	}
}
