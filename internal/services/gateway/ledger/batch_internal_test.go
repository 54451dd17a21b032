package ledger

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waooaw/waooaw/internal/redistest"
)

func newBatchTestLedger(t *testing.T) (*Ledger, *redis.Client) {
	t.Helper()
	srv := redistest.New(t)
	opts, err := ClientOptions(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return New(rdb, srv.Prefix()), rdb
}

// holdRoundTrips takes every round trip, so that scripts queue; the function returned gives
// one back.
func holdRoundTrips(l *Ledger) (release func()) {
	for range maxRoundTrips {
		l.reserve.lanes <- struct{}{}
	}
	return func() { <-l.reserve.lanes }
}

func queued(l *Ledger) int {
	l.reserve.mu.Lock()
	defer l.reserve.mu.Unlock()
	return len(l.reserve.queue)
}

// Scripts that queued while the round trips were busy go in one pipeline; when Redis has lost
// the script, each comes back NOSCRIPT and is sent again with its source, and every request is
// still charged exactly once.
func TestQueuedReservesShareARoundTrip(t *testing.T) {
	l, rdb := newBatchTestLedger(t)
	ctx := context.Background()
	req := Request{AgentKey: "agent", CustomerID: "customer", Now: time.Now()}
	lim := Limits{CostMicros: 3, AgentDailyMicros: 1e9, PlatformMonthlyMicros: 1e9}
	if _, err := l.Reserve(ctx, req, lim); err != nil { // the script is loaded
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	release := holdRoundTrips(l)
	const requests = 10
	results := make([]Result, requests)
	errs := make([]error, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() { results[i], errs[i] = l.Reserve(ctx, req, lim) })
	}
	for n := 0; queued(l) < requests; n++ {
		if n == 3000 { // a guard against a hang, not a speed limit
			t.Fatalf("%d of %d scripts queued", queued(l), requests)
		}
		time.Sleep(time.Millisecond)
	}
	release() // one round trip: whoever takes it sends the whole queue
	wg.Wait()
	for range maxRoundTrips - 1 {
		release()
	}

	seen := map[int64]bool{}
	for i := range requests {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		seen[results[i].AgentSpentMicros] = true
	}
	if len(seen) != requests {
		t.Errorf("the requests saw %d distinct totals, want %d (each charged on its own)", len(seen), requests)
	}
	got, err := l.Spent(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := lim.CostMicros * (requests + 1); got.AgentSpentMicros != want || got.CustomerSpentMicros != want {
		t.Errorf("Spent = %+v, want %d on the agent and the customer", got, want)
	}
}

// A caller whose deadline passes while its script waits for a round trip leaves the queue: the
// script is never sent, so nothing is charged for a request the gateway did not let through.
func TestQueuedReserveGivesUpAtDeadline(t *testing.T) {
	l, _ := newBatchTestLedger(t)
	req := Request{AgentKey: "agent", Now: time.Now()}
	lim := Limits{CostMicros: 1, AgentDailyMicros: 10, PlatformMonthlyMicros: 10}

	release := holdRoundTrips(l)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Reserve(ctx, req, lim); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Reserve = %v, want ErrUnavailable wrapping the deadline", err)
	}
	if n := queued(l); n != 0 {
		t.Errorf("%d scripts left in the queue", n)
	}
	for range maxRoundTrips {
		release()
	}

	got, err := l.Spent(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got.AgentSpentMicros != 0 || got.PlatformSpentMicros != 0 {
		t.Errorf("Spent = %+v, want nothing charged", got)
	}
	if r, err := l.Reserve(context.Background(), req, lim); err != nil || r.AgentSpentMicros != 1 {
		t.Errorf("Reserve once the round trips are free = %+v, %v; want a charge of 1", r, err)
	}
}
