package ledger_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/services/gateway/ledger"
)

func TestReserveCharges(t *testing.T) {
	e := newTestEnv(t)
	now := time.Now().UTC()
	const cost = 1_234
	lim := generous
	lim.CostMicros = cost

	// Seven requests: agents a1, a2, a1, …; customer c1 on every other one.
	var want struct{ a1, a2, platform, customer int64 }
	for i := range 7 {
		req := ledger.Request{AgentKey: "a1", Now: now}
		if i%2 == 1 {
			req.AgentKey = "a2"
		}
		if i%2 == 0 {
			req.CustomerID = "c1"
		}
		r := e.reserve(t, req, lim)

		agent := &want.a1
		if req.AgentKey == "a2" {
			agent = &want.a2
		}
		*agent += cost
		want.platform += cost
		wantCustomer := int64(0)
		if req.CustomerID != "" {
			want.customer += cost
			wantCustomer = want.customer
		}
		wantResult := ledger.Result{
			AgentSpentMicros:    *agent,
			PlatformSpentMicros: want.platform,
			CustomerSpentMicros: wantCustomer,
		}
		if r != wantResult {
			t.Fatalf("request %d: Reserve = %+v, want %+v", i, r, wantResult)
		}
	}

	got := e.spent(t, ledger.Request{AgentKey: "a1", CustomerID: "c1", Now: now})
	wantSpent := ledger.Result{AgentSpentMicros: want.a1, PlatformSpentMicros: want.platform, CustomerSpentMicros: want.customer}
	if got != wantSpent {
		t.Fatalf("Spent = %+v, want %+v", got, wantSpent)
	}

	// The keys are named as documented and expire a day after their period ends.
	y, m, d := now.Date()
	dayExpiry := time.Date(y, m, d+2, 0, 0, 0, 0, time.UTC)
	monthExpiry := time.Date(y, m+1, 2, 0, 0, 0, 0, time.UTC)
	day, month := now.Format("2006-01-02"), now.Format("2006-01")
	wantKeys := map[string]time.Time{
		e.prefix + "budget:agent:a1:" + day:      dayExpiry,
		e.prefix + "budget:agent:a2:" + day:      dayExpiry,
		e.prefix + "budget:platform:" + month:    monthExpiry,
		e.prefix + "budget:customer:c1:" + month: monthExpiry,
	}
	snap := e.snapshot(t)
	if len(snap) != len(wantKeys) {
		t.Fatalf("keys = %v, want exactly %v", snap, wantKeys)
	}
	for key, wantExpiry := range wantKeys {
		if got := e.expireTime(t, key); !got.Equal(wantExpiry) {
			t.Errorf("%s expires at %v, want %v", key, got, wantExpiry)
		}
	}
}

func TestReserveConcurrentCaps(t *testing.T) {
	const (
		requests = 50
		cost     = 7_000
	)
	tests := []struct {
		name      string
		request   func(i int) ledger.Request
		limits    ledger.Limits
		wantLimit ledger.Denial
		counter   func(ledger.Result) int64
		wantCount int64
	}{
		{
			name:      "agent daily cap",
			request:   func(int) ledger.Request { return ledger.Request{AgentKey: "hot-agent"} },
			limits:    ledger.Limits{CostMicros: cost, AgentDailyMicros: 10 * cost, PlatformMonthlyMicros: 1e12},
			wantLimit: ledger.AgentBudget,
			counter:   func(r ledger.Result) int64 { return r.AgentSpentMicros },
			wantCount: 10 * cost,
		},
		{
			name: "platform monthly cap over several agents",
			request: func(i int) ledger.Request {
				return ledger.Request{AgentKey: []string{"a", "b", "c", "d", "e"}[i%5]}
			},
			limits:    ledger.Limits{CostMicros: cost, AgentDailyMicros: 1e12, PlatformMonthlyMicros: 10 * cost},
			wantLimit: ledger.PlatformBudget,
			counter:   func(r ledger.Result) int64 { return r.PlatformSpentMicros },
			wantCount: 10 * cost,
		},
		{
			name: "trial tasks per day",
			request: func(int) ledger.Request {
				return ledger.Request{AgentKey: "trial-agent", UserID: "trial-user", TrialTask: true}
			},
			limits:    ledger.Limits{CostMicros: cost, AgentDailyMicros: 1e12, PlatformMonthlyMicros: 1e12, TrialTasksPerDay: 10},
			wantLimit: ledger.TrialLimit,
			counter:   func(r ledger.Result) int64 { return r.TrialTasks },
			wantCount: 10,
		},
	}
	e := newTestEnv(t)
	now := time.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.withPrefix(strings.ReplaceAll(tt.name, " ", "-"))
			start := make(chan struct{})
			results := make([]ledger.Result, requests)
			errs := make([]error, requests)
			var wg sync.WaitGroup
			for i := range requests {
				wg.Go(func() {
					req := tt.request(i)
					req.Now = now
					<-start
					results[i], errs[i] = e.ledger.Reserve(context.Background(), req, tt.limits)
				})
			}
			close(start)
			wg.Wait()

			allowed := 0
			for i, r := range results {
				if errs[i] != nil {
					t.Fatalf("request %d: %v", i, errs[i])
				}
				switch r.Denied {
				case ledger.None:
					allowed++
				case tt.wantLimit:
				default:
					t.Fatalf("request %d denied by %q, want %q", i, r.Denied, tt.wantLimit)
				}
			}
			if allowed != 10 {
				t.Errorf("allowed %d of %d requests, want exactly 10", allowed, requests)
			}
			req := tt.request(0)
			req.Now = now
			if got := tt.counter(e.spent(t, req)); got != tt.wantCount {
				t.Errorf("counter = %d, want exactly %d (no over-spend)", got, tt.wantCount)
			}
		})
	}
}

func TestDeniedRequestChangesNothing(t *testing.T) {
	// Each case starts from two charged trial tasks of cost 100: every counter exists, the
	// agent, platform and customer at 200 and the trial tasks at 2.
	const cost = 100
	roomy := ledger.Limits{CostMicros: cost, AgentDailyMicros: 1000, PlatformMonthlyMicros: 1000, TrialTasksPerDay: 10}
	tests := []struct {
		name   string
		limits func(ledger.Limits) ledger.Limits
		want   ledger.Denial
	}{
		{"trial limit", func(l ledger.Limits) ledger.Limits { l.TrialTasksPerDay = 2; return l }, ledger.TrialLimit},
		{"agent budget", func(l ledger.Limits) ledger.Limits { l.AgentDailyMicros = 250; return l }, ledger.AgentBudget},
		{"platform budget", func(l ledger.Limits) ledger.Limits { l.PlatformMonthlyMicros = 250; return l }, ledger.PlatformBudget},
		{"agent exactly spent", func(l ledger.Limits) ledger.Limits { l.AgentDailyMicros = 200; return l }, ledger.AgentBudget},
		{"every limit: trial is checked first", func(l ledger.Limits) ledger.Limits {
			return ledger.Limits{CostMicros: cost, AgentDailyMicros: 0, PlatformMonthlyMicros: 0, TrialTasksPerDay: 0}
		}, ledger.TrialLimit},
		{"agent and platform: agent is checked first", func(l ledger.Limits) ledger.Limits {
			l.AgentDailyMicros, l.PlatformMonthlyMicros = 0, 0
			return l
		}, ledger.AgentBudget},
	}
	e := newTestEnv(t)
	now := time.Now()
	req := ledger.Request{AgentKey: "agent", CustomerID: "customer", UserID: "user", TrialTask: true, Now: now}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.withPrefix(strings.ReplaceAll(tt.name, " ", "-"))
			e.reserve(t, req, roomy)
			e.reserve(t, req, roomy)
			before := e.snapshot(t)
			if len(before) != 4 {
				t.Fatalf("setup made keys %v, want 4", before)
			}

			r := e.reserve(t, req, tt.limits(roomy))

			if r.Denied != tt.want {
				t.Fatalf("Denied = %q, want %q", r.Denied, tt.want)
			}
			current := ledger.Result{AgentSpentMicros: 200, PlatformSpentMicros: 200, CustomerSpentMicros: 200, TrialTasks: 2}
			r.Denied, r.ResetAt = "", time.Time{}
			if r != current {
				t.Errorf("Result counters = %+v, want the current %+v", r, current)
			}
			if after := e.snapshot(t); !maps.Equal(before, after) {
				t.Errorf("keys changed by a denied request:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestTrialTasks(t *testing.T) {
	e := newTestEnv(t)
	now := time.Now().UTC()
	lim := generous
	lim.TrialTasksPerDay = 10
	task := func(user string, at time.Time) ledger.Request {
		return ledger.Request{AgentKey: "agent-" + user, UserID: user, TrialTask: true, Now: at}
	}

	for i := 1; i <= 10; i++ {
		if r := e.reserve(t, task("u1", now), lim); r.Denied != ledger.None || r.TrialTasks != int64(i) {
			t.Fatalf("task %d: Denied=%q TrialTasks=%d, want allowed as task %d", i, r.Denied, r.TrialTasks, i)
		}
	}

	r := e.reserve(t, task("u1", now), lim)
	y, m, d := now.Date()
	midnight := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
	if r.Denied != ledger.TrialLimit || r.TrialTasks != 10 || !r.ResetAt.Equal(midnight) {
		t.Fatalf("11th task = %+v, want denied %q with TrialTasks 10 and ResetAt %v", r, ledger.TrialLimit, midnight)
	}
	if got, want := r.RetryAfter(now), midnight.Sub(now); got < want || got >= want+time.Second {
		t.Errorf("RetryAfter = %v, want %v rounded up to seconds", got, want)
	}
	if got := e.spent(t, task("u1", now)).AgentSpentMicros; got != 10*lim.CostMicros {
		t.Errorf("agent spent %d after the refused 11th task, want %d: a refused task is not charged", got, 10*lim.CostMicros)
	}

	// A GET (no task) of the same user still passes and counts nothing.
	get := task("u1", now)
	get.TrialTask = false
	if r := e.reserve(t, get, lim); r.Denied != ledger.None || r.TrialTasks != 0 {
		t.Errorf("GET of a trial user at the limit = %+v, want allowed and no task counted", r)
	}
	if got := e.spent(t, task("u1", now)).TrialTasks; got != 10 {
		t.Errorf("u1 tasks after a GET = %d, want 10", got)
	}

	if r := e.reserve(t, task("u2", now), lim); r.Denied != ledger.None || r.TrialTasks != 1 {
		t.Errorf("another user's first task = %+v, want allowed as task 1", r)
	}

	tomorrow := now.Add(24 * time.Hour)
	if r := e.reserve(t, task("u1", tomorrow), lim); r.Denied != ledger.None || r.TrialTasks != 1 {
		t.Errorf("u1's first task the next day = %+v, want allowed as task 1", r)
	}
	trialKey := e.prefix + "trial:tasks:u1:" + now.Format("2006-01-02")
	if got, want := e.expireTime(t, trialKey), midnight.Add(24*time.Hour); !got.Equal(want) {
		t.Errorf("%s expires at %v, want %v", trialKey, got, want)
	}
}

func TestResetAt(t *testing.T) {
	// A cap below the cost refuses the first request, so no counter is written and any
	// date will do.
	const cost = 1
	agentCapped := ledger.Limits{CostMicros: cost, AgentDailyMicros: 0, PlatformMonthlyMicros: 1e9, TrialTasksPerDay: 5}
	platformCapped := ledger.Limits{CostMicros: cost, AgentDailyMicros: 1e9, PlatformMonthlyMicros: 0, TrialTasksPerDay: 5}
	trialCapped := ledger.Limits{CostMicros: cost, AgentDailyMicros: 1e9, PlatformMonthlyMicros: 1e9, TrialTasksPerDay: 0}
	tests := []struct {
		name           string
		now            string
		limits         ledger.Limits
		want           ledger.Denial
		wantReset      string
		wantRetryAfter time.Duration
	}{
		{"agent half a second before midnight", "2026-03-14T23:59:59.5Z", agentCapped, ledger.AgentBudget, "2026-03-15T00:00:00Z", time.Second},
		{"trial half a second before midnight", "2026-03-14T23:59:59.5Z", trialCapped, ledger.TrialLimit, "2026-03-15T00:00:00Z", time.Second},
		{"agent at midnight", "2026-03-15T00:00:00Z", agentCapped, ledger.AgentBudget, "2026-03-16T00:00:00Z", 24 * time.Hour},
		{"agent on new year's eve", "2026-12-31T23:00:00Z", agentCapped, ledger.AgentBudget, "2027-01-01T00:00:00Z", time.Hour},
		{"platform on new year's eve", "2026-12-31T12:00:00Z", platformCapped, ledger.PlatformBudget, "2027-01-01T00:00:00Z", 12 * time.Hour},
		{"platform in a leap February", "2028-02-28T00:00:00Z", platformCapped, ledger.PlatformBudget, "2028-03-01T00:00:00Z", 48 * time.Hour},
		{"platform on a leap day", "2028-02-29T10:00:00Z", platformCapped, ledger.PlatformBudget, "2028-03-01T00:00:00Z", 14 * time.Hour},
		{"platform in a common February", "2027-02-28T10:00:00Z", platformCapped, ledger.PlatformBudget, "2027-03-01T00:00:00Z", 14 * time.Hour},
		{"agent: periods are UTC, not local", "2026-06-30T20:00:00-07:00", agentCapped, ledger.AgentBudget, "2026-07-02T00:00:00Z", 21 * time.Hour},
		{"platform: periods are UTC, not local", "2026-07-31T20:00:00-07:00", platformCapped, ledger.PlatformBudget, "2026-09-01T00:00:00Z", (31*24 - 3) * time.Hour},
	}
	e := newTestEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := utc(tt.now)
			req := ledger.Request{AgentKey: "agent", UserID: "user", TrialTask: true, Now: now}
			r := e.reserve(t, req, tt.limits)
			if r.Denied != tt.want {
				t.Fatalf("Denied = %q, want %q", r.Denied, tt.want)
			}
			if want := utc(tt.wantReset); !r.ResetAt.Equal(want) {
				t.Errorf("ResetAt = %v, want %v", r.ResetAt, want)
			}
			if got := r.RetryAfter(now); got != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tt.wantRetryAfter)
			}
		})
	}
	if keys := e.snapshot(t); len(keys) != 0 {
		t.Errorf("refused requests wrote keys %v", keys)
	}
}

func TestRetryAfter(t *testing.T) {
	now := utc("2026-05-01T10:00:00Z")
	tests := []struct {
		name    string
		resetAt time.Time
		want    time.Duration
	}{
		{"allowed", time.Time{}, 0},
		{"whole seconds", now.Add(90 * time.Second), 90 * time.Second},
		{"rounded up", now.Add(time.Nanosecond), time.Second},
		{"already past", now.Add(-time.Second), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (ledger.Result{ResetAt: tt.resetAt}).RetryAfter(now); got != tt.want {
				t.Errorf("RetryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestKeysDoNotCollide(t *testing.T) {
	e := newTestEnv(t)
	now := time.Now()
	long := strings.Repeat("x", 10<<10)
	// Ids that would share or split keys if pasted into them as they are.
	ids := []string{"a", "b", "ab", "a:b", "a:b:c", "a:" + now.UTC().Format("2006-01-02"), "{a}", "a}", "{", "~a",
		"A", "a b", "é", "a\x00b", "*", strings.Repeat("y", 64), strings.Repeat("y", 65), long, long + "x"}

	for i, id := range ids {
		lim := generous
		lim.CostMicros = int64(i + 1) // a different amount per id shows whose charge landed where
		e.reserve(t, ledger.Request{AgentKey: id, CustomerID: id, UserID: id, TrialTask: true, Now: now}, lim)
	}
	for i, id := range ids {
		got := e.spent(t, ledger.Request{AgentKey: id, CustomerID: id, UserID: id, TrialTask: true, Now: now})
		if got.AgentSpentMicros != int64(i+1) || got.CustomerSpentMicros != int64(i+1) || got.TrialTasks != 1 {
			t.Errorf("id %.20q: Spent = %+v, want agent and customer %d and 1 task (its own charge only)", id, got, i+1)
		}
	}

	keys := e.snapshot(t)
	if want := 3*len(ids) + 1; len(keys) != want { // agent, customer and trial per id, and the platform
		t.Errorf("%d keys, want %d", len(keys), want)
	}
	for key := range keys {
		rest := strings.TrimPrefix(key, e.prefix)
		if len(rest) > 100 {
			t.Errorf("key %.60q… is %d bytes after the prefix, want at most 100", rest, len(rest))
		}
		if strings.ContainsAny(rest, "{}") {
			t.Errorf("key %q carries a hash tag", key)
		}
		// The id never adds a field to the key.
		wantFields := 4
		if strings.HasPrefix(rest, "budget:platform:") {
			wantFields = 3
		}
		if n := strings.Count(rest, ":") + 1; n != wantFields {
			t.Errorf("key %.80q has %d fields, want %d", key, n, wantFields)
		}
	}
}

func TestCountersExpire(t *testing.T) {
	e := newTestEnv(t)
	// A day long past: the keys' expiry is already behind Redis's clock, so Redis removes
	// each key as soon as the script sets it.
	past := utc("2001-03-04T05:06:07Z")
	req := ledger.Request{AgentKey: "agent", CustomerID: "customer", UserID: "user", TrialTask: true, Now: past}
	for range 2 {
		r := e.reserve(t, req, generous)
		want := ledger.Result{AgentSpentMicros: 1000, PlatformSpentMicros: 1000, CustomerSpentMicros: 1000, TrialTasks: 1}
		if r != want {
			t.Fatalf("Reserve = %+v, want %+v (every counter started over)", r, want)
		}
	}
	if keys := e.snapshot(t); len(keys) != 0 {
		t.Errorf("keys of 2001 still there: %v", keys)
	}
}

func TestInvalidRequest(t *testing.T) {
	e := newTestEnv(t)
	now := time.Now()
	tests := []struct {
		name string
		req  ledger.Request
		lim  ledger.Limits
	}{
		{"no agent", ledger.Request{Now: now}, generous},
		{"trial task without user", ledger.Request{AgentKey: "a", TrialTask: true, Now: now}, generous},
		{"no time", ledger.Request{AgentKey: "a"}, generous},
		{"negative cost", ledger.Request{AgentKey: "a", Now: now}, ledger.Limits{CostMicros: -1, AgentDailyMicros: 10, PlatformMonthlyMicros: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.ledger.Reserve(context.Background(), tt.req, tt.lim)
			if err == nil || errors.Is(err, ledger.ErrUnavailable) {
				t.Fatalf("Reserve error = %v, want a caller error that is not ErrUnavailable", err)
			}
		})
	}
	if keys := e.snapshot(t); len(keys) != 0 {
		t.Errorf("invalid requests wrote keys %v", keys)
	}
}
