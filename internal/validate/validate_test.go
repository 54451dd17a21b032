package validate

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/pgtest"
	"github.com/waooaw/waooaw/internal/policy"
	"github.com/waooaw/waooaw/internal/redistest"
	"github.com/waooaw/waooaw/internal/services/backend"
	"github.com/waooaw/waooaw/internal/services/gateway"
	"github.com/waooaw/waooaw/internal/services/portal"
	"github.com/waooaw/waooaw/internal/token"
)

var stackKey *token.SigningKey

// portalSecret is what the test stack's portals prove themselves to its gateway with.
const portalSecret = "verify-test-portal-secret-0123456789"

func TestMain(m *testing.M) {
	k, err := token.GenerateSigningKey(token.RS256)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stackKey = k
	os.Exit(pgtest.Run(m))
}

// service is one part of the test stack, stoppable on its own and restartable on its address.
type service struct {
	t     testing.TB
	addr  string
	serve func(ctx context.Context, ln net.Listener) error
	stop  func()
}

func (s *service) start() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.serve(ctx, ln); close(done) }()
	var once sync.Once
	s.stop = func() { once.Do(func() { cancel(); <-done }) }
	s.t.Cleanup(s.stop)
}

func (s *service) url() string { return "http://" + s.addr }

// testStack is the whole stack in this process: the real backend on PostgreSQL, the gateway
// with redis-server and OPA's server, and the two portals — each part stoppable.
type testStack struct {
	db                            string
	backend, gateway, cp, pp, opa *service
	target                        *Target
	backendLog                    *lockedBuffer
}

func newTestStack(t *testing.T) *testStack {
	t.Helper()
	s := &testStack{db: pgtest.NewDatabase(t), backendLog: &lockedBuffer{}}
	if _, err := backend.Migrate(s.db); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), s.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	keys, _ := stackKey.PublicKeySet()
	verifier, err := token.NewVerifier(token.VerifierConfig{}, keys)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)

	backendLogger, _ := httpx.NewLogger(s.backendLog, "info", "backend")
	s.backend = &service{t: t, addr: "127.0.0.1:0", serve: func(ctx context.Context, ln net.Listener) error {
		h, err := backend.NewServer(backend.Config{BodyLimit: 1 << 20, Verifier: verifier, Environment: "development"}, backendLogger, pool)
		if err != nil {
			return err
		}
		return httpx.Serve(ctx, ln, h, httpx.ServerConfig{}, backendLogger)
	}}
	s.backend.start()

	s.opa = &service{t: t, addr: "127.0.0.1:0", serve: func(ctx context.Context, ln net.Listener) error {
		addr := ln.Addr().String()
		ln.Close()
		return policy.Serve(ctx, policy.ServerConfig{Addr: addr})
	}}
	s.opa.start()
	waitListening(t, s.opa.addr)

	redis := redistest.New(t)
	cfg := gateway.Config{
		BackendURL:  mustURL(t, s.backend.url()),
		RedisURL:    redis.URL(),
		RedisPrefix: redis.Prefix(),
		OPAURL:      s.opa.url(),
		DatabaseURL: s.db,
		Verifier:    verifier,
		Keys:        keys,
		ApprovalURL: "http://pp.test/governor/approvals",
		UpgradeURL:  "http://cp.test/upgrade",
		Limits: policy.Limits{CostPerRequestMicros: 1000, AgentDailyMicros: 1_000_000,
			PlatformMonthlyMicros: 100_000_000, TrialTasksPerDay: 10},
		OPATimeout: 2 * time.Second, UpstreamTimeout: 5 * time.Second, DecisionCacheTTL: time.Second,
		BodyLimit: 10 << 20, Environment: "development", Version: "test",
		PortalSecret: portalSecret,
	}
	s.gateway = &service{t: t, addr: "127.0.0.1:0", serve: func(ctx context.Context, ln net.Listener) error {
		return gateway.Run(ctx, cfg, quiet, ln)
	}}
	s.gateway.start()
	for _, p := range []**service{&s.cp, &s.pp} {
		name := "cp"
		if p == &s.pp {
			name = "pp"
		}
		*p = &service{t: t, addr: "127.0.0.1:0", serve: func(ctx context.Context, ln net.Listener) error {
			return portal.Run(ctx, portal.Config{Name: name, GatewayURL: mustURL(t, s.gateway.url()), Version: "test", PortalSecret: portalSecret}, quiet, ln)
		}}
		(*p).start()
	}
	s.target = &Target{
		CPURL: s.cp.url(), PPURL: s.pp.url(), GatewayURL: s.gateway.url(), BackendURL: s.backend.url(),
		DatabaseURL: s.db, OPAURL: s.opa.url(), Key: stackKey,
		Logs: func(service string, n int) []string {
			if service != "backend" {
				return nil
			}
			lines := strings.Split(strings.TrimSpace(s.backendLog.String()), "\n")
			return lines[max(0, len(lines)-n):]
		},
	}
	return s
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang guard
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func outcomes(rep *Report) map[string]Outcome {
	out := map[string]Outcome{}
	for _, r := range rep.Results {
		out[r.ID] = r.Outcome
	}
	return out
}

func failedIDs(rep *Report) []string {
	var ids []string
	for _, r := range rep.Results {
		if r.Outcome == Failed {
			ids = append(ids, r.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func describe(rep *Report) string {
	var b strings.Builder
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "%s %s: %s\n", r.Outcome, r.ID, r.Message)
		if r.Outcome == Failed {
			for _, e := range r.Evidence {
				fmt.Fprintf(&b, "    %s\n", e)
			}
		}
	}
	return b.String()
}

func TestHealthyStackPassesEveryCheckTwice(t *testing.T) {
	s := newTestStack(t)
	for run := 1; run <= 2; run++ { // the full suite makes its own data: it repeats
		rep, err := Run(context.Background(), s.target, Options{Suite: "full"})
		if err != nil {
			t.Fatal(err)
		}
		if all, _ := Select(Options{Suite: "full"}); !rep.OK() || len(rep.Results) != len(all) || len(all) != 17 {
			t.Fatalf("run %d on a healthy stack:\n%s", run, describe(rep))
		}
		for _, r := range rep.Results {
			if r.Attempts != 1 || len(r.Evidence) == 0 || r.Duration <= 0 {
				t.Errorf("%s: attempts %d, %d evidence lines, duration %v", r.ID, r.Attempts, len(r.Evidence), r.Duration)
			}
		}
	}
}

func TestStoppedBackendFailsExactlyTheChecksThatNeedIt(t *testing.T) {
	s := newTestStack(t)
	s.backend.stop()
	rep, err := Run(context.Background(), s.target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"auth-jwt", "backend-health", "gateway-backend", "gateway-health", "middleware-stack"}
	if got := failedIDs(rep); !slices.Equal(got, want) {
		t.Fatalf("failed %v, want %v\n%s", got, want, describe(rep))
	}
	for _, r := range rep.Results {
		if r.Outcome == Failed && (r.Message == "" || len(r.Evidence) == 0) {
			t.Errorf("%s failed without saying why: %q %v", r.ID, r.Message, r.Evidence)
		}
	}
	if rep.Unreachable() {
		t.Error("a stack with only the backend down counts as unreachable")
	}
}

func TestStoppedCPFailsOnlyItsChecks(t *testing.T) {
	s := newTestStack(t)
	s.cp.stop()
	rep, _ := Run(context.Background(), s.target, Options{})
	if got := failedIDs(rep); !slices.Equal(got, []string{"cp-flow", "cp-health"}) {
		t.Fatalf("failed %v, want cp-flow and cp-health\n%s", got, describe(rep))
	}
}

func TestNoStackIsUnreachable(t *testing.T) {
	dead := "http://" + freeAddr(t)
	rep, _ := Run(context.Background(), &Target{CPURL: dead, PPURL: dead, GatewayURL: dead, BackendURL: dead, Key: stackKey}, Options{})
	if !rep.Unreachable() || rep.OK() {
		t.Fatalf("nothing listening: unreachable %v, ok %v\n%s", rep.Unreachable(), rep.OK(), describe(rep))
	}
	if o := outcomes(rep)["database"]; o != Skipped {
		t.Errorf("database check without a database URL: %s, want skipped", o)
	}
}

func TestRetryTimeoutWaitsForAStackThatComesUp(t *testing.T) {
	s := newTestStack(t)
	s.cp.stop()
	go func() {
		time.Sleep(600 * time.Millisecond)
		s.cp.start()
	}()
	rep, _ := Run(context.Background(), s.target, Options{Only: []string{"cp-health"}, RetryTimeout: time.Minute})
	if !rep.OK() || rep.Results[0].Attempts < 2 {
		t.Fatalf("cp-health with a CP that comes back: %s after %d attempts", rep.Results[0].Outcome, rep.Results[0].Attempts)
	}
}

func TestATokenFromTheStackWorksWithoutItsKey(t *testing.T) {
	s := newTestStack(t)
	tok, err := s.target.mint("ci", []string{token.RoleCustomerAdmin}, customer(demoCustomerA))
	if err != nil {
		t.Fatal(err)
	}
	foreign := *s.target
	foreign.Key, foreign.Token = nil, tok
	rep, _ := Run(context.Background(), &foreign, Options{Suite: "full"})
	got := outcomes(rep)
	for _, id := range []string{"gateway-backend", "auth-jwt", "middleware-stack", "correlation-round-trip", "budget-headers"} {
		if got[id] != Passed {
			t.Errorf("%s with --token: %s\n%s", id, got[id], describe(rep))
		}
	}
	if got["trial-via-cp"] != Skipped || !rep.OK() {
		t.Errorf("workflows that need other roles: trial-via-cp %s, ok %v; want skipped and no failure", got["trial-via-cp"], rep.OK())
	}
	// A key the stack does not trust fails the authenticated checks.
	other, _ := token.GenerateSigningKey(token.RS256)
	wrong := *s.target
	wrong.Key = other
	rep, _ = Run(context.Background(), &wrong, Options{Only: []string{"gateway-backend"}})
	if rep.OK() {
		t.Error("a token signed with a foreign key passed gateway-backend")
	}
}

func TestSelectValidatesIDs(t *testing.T) {
	if _, err := Select(Options{Only: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "backend-health") {
		t.Errorf("unknown id: %v, want an error listing the ids", err)
	}
	if _, err := Select(Options{Suite: "huge"}); err == nil {
		t.Error("unknown suite accepted")
	}
	smoke, _ := Select(Options{})
	full, _ := Select(Options{Suite: "full"})
	if len(smoke) != 10 || len(full) <= 10 {
		t.Errorf("smoke %d checks, full %d; want 10 and more", len(smoke), len(full))
	}
	some, _ := Select(Options{Skip: []string{"database", "cp-flow"}})
	if len(some) != 8 {
		t.Errorf("--skip two: %d checks, want 8", len(some))
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
