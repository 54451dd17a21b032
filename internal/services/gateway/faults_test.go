package gateway_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/pgtest"
	"github.com/waooaw/waooaw/internal/services/backend"
	"github.com/waooaw/waooaw/internal/services/gateway"
	"github.com/waooaw/waooaw/internal/token"
)

func TestOPAStoppedFailsClosedAndRecovers(t *testing.T) {
	s := newStack(t, withEcho(), func(_ *stack, c *gateway.Config) { c.DecisionCacheTTL = 0 })
	tok := role(t, token.RoleViewer)
	ok(t, s.do(req{path: "/api/v1/agents", token: tok}), 200)
	s.opa.stop()
	r := s.do(req{path: "/api/v1/agents", token: tok})
	problem(t, r, 503, "service-unavailable")
	if s.echo.hits.Load() != 1 {
		t.Error("a request the policy could not decide reached the backend")
	}
	if h := s.do(req{path: "/health"}); h.status != 503 || h.json(t)["opa"] != "down" {
		t.Errorf("health with OPA down: %d %s", h.status, h.body)
	}
	ok(t, s.do(req{path: "/healthz"}), 200) // the gateway itself stays up
	s.opa.restart()
	ok(t, s.do(req{path: "/api/v1/agents", token: tok}), 200)
}

func TestDecisionCache(t *testing.T) {
	s := newStack(t, withEcho())
	for range 5 {
		ok(t, s.do(req{path: "/api/v1/agents", token: role(t, token.RoleViewer)}), 200)
	}
	hits := s.metric(`waooaw_gateway_decision_cache_total{result="hit"}`)
	misses := s.metric(`waooaw_gateway_decision_cache_total{result="miss"}`)
	if misses != 1 || hits != 4 {
		t.Errorf("cache: %v hits, %v misses; want 4 and 1", hits, misses)
	}
	// With the cache holding the answer, OPA going away does not matter until it expires.
	s.opa.stop()
	ok(t, s.do(req{path: "/api/v1/agents", token: role(t, token.RoleViewer)}), 200)
}

func TestRedisDownFailsOpen(t *testing.T) {
	s := newStack(t, withEcho())
	tok := role(t, token.RoleViewer)
	s.redis.Stop(t)
	r := s.do(req{path: "/api/v1/agents", token: tok})
	ok(t, r, 200)
	if r.header.Get("X-Budget-Alert-Level") != "unknown" {
		t.Errorf("X-Budget-Alert-Level %q, want unknown", r.header.Get("X-Budget-Alert-Level"))
	}
	if s.echo.hits.Load() != 1 {
		t.Errorf("the upstream saw %d requests, want exactly 1 (never re-sent)", s.echo.hits.Load())
	}
	if h := s.do(req{path: "/health"}); h.status != 200 || h.json(t)["status"] != "degraded" {
		t.Errorf("health with Redis down in open mode: %d %s", h.status, h.body)
	}
	s.redis.Start(t)
	eventually(t, "budget headers back", func() bool {
		return s.do(req{path: "/api/v1/agents", token: tok}).header.Get("X-Budget-Alert-Level") == "normal"
	})
}

func TestRedisDownFailsClosed(t *testing.T) {
	s := newStack(t, withEcho(), func(_ *stack, c *gateway.Config) { c.BudgetFailClosed = true })
	tok := role(t, token.RoleViewer)
	s.redis.Stop(t)
	problem(t, s.do(req{path: "/api/v1/agents", token: tok}), 503, "service-unavailable")
	if s.echo.hits.Load() != 0 {
		t.Error("a request refused in closed mode reached the backend")
	}
	if h := s.do(req{path: "/health"}); h.status != 503 {
		t.Errorf("health with Redis down in closed mode: %d", h.status)
	}
	s.redis.Start(t)
	eventually(t, "requests pass again", func() bool { return s.do(req{path: "/api/v1/agents", token: tok}).status == 200 })
}

// restartable is an upstream that can go away and come back on the same address.
type restartable struct {
	addr    string
	handler http.Handler
	srv     *http.Server
}

func newRestartable(t *testing.T, h http.Handler) *restartable {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &restartable{addr: ln.Addr().String(), handler: h}
	u.serve(ln)
	t.Cleanup(func() { u.srv.Close() })
	return u
}

func (u *restartable) serve(ln net.Listener) {
	u.srv = &http.Server{Handler: u.handler}
	go u.srv.Serve(ln)
}

func (u *restartable) stop() { u.srv.Close() }

func (u *restartable) start(t *testing.T) {
	ln, err := net.Listen("tcp", u.addr)
	if err != nil {
		t.Fatal(err)
	}
	u.serve(ln)
}

func TestBackendDownAndSlow(t *testing.T) {
	var delay atomic.Int64
	var hits atomic.Int64
	up := newRestartable(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if d := time.Duration(delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
		}
		w.Write([]byte(`{}`))
	}))
	s := newStack(t, func(_ *stack, c *gateway.Config) {
		c.BackendURL = mustURL("http://" + up.addr)
		c.UpstreamTimeout = 300 * time.Millisecond
	})
	tok := role(t, token.RoleViewer)
	ok(t, s.do(req{path: "/api/v1/agents", token: tok}), 200)

	up.stop()
	p := problem(t, s.do(req{path: "/api/v1/agents", token: tok}), 502, "bad-gateway")
	if d, _ := p["detail"].(string); containsAny(d, up.addr, "dial", "connection refused") {
		t.Errorf("502 detail leaks internals: %q", d)
	}
	up.start(t)
	ok(t, s.do(req{path: "/api/v1/agents", token: tok}), 200)

	delay.Store(int64(5 * time.Second))
	before := hits.Load()
	problem(t, s.do(req{path: "/api/v1/agents", token: tok}), 504, "gateway-timeout")
	if hits.Load()-before != 1 {
		t.Errorf("the slow request was sent %d times, want once", hits.Load()-before)
	}
	delay.Store(0)
	ok(t, s.do(req{path: "/api/v1/agents", token: tok}), 200)
}

func TestAuditSurvivesDatabaseOutage(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	dbURL := cluster.URL(pgtest.ClusterDatabase)
	if _, err := backend.Migrate(dbURL); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, withEcho(), func(_ *stack, c *gateway.Config) { c.DatabaseURL = dbURL })
	tok := role(t, token.RoleViewer)
	ok(t, s.do(req{path: "/api/v1/agents", token: tok}), 200)
	eventually(t, "a row written", func() bool { return s.metric(`waooaw_gateway_audit_rows_total{result="written"}`) >= 1 })

	if err := cluster.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		ok(t, s.do(req{path: "/api/v1/agents", token: tok}), 200)
	}
	eventually(t, "rows dropped and counted", func() bool { return s.metric(`waooaw_gateway_audit_rows_total{result="dropped"}`) >= 5 })
	if h := s.do(req{path: "/health"}); h.status != 200 || h.json(t)["database"] != "down" {
		t.Errorf("health with the audit database down: %d %s", h.status, h.body)
	}

	if err := cluster.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	written := s.metric(`waooaw_gateway_audit_rows_total{result="written"}`)
	ok(t, s.do(req{path: "/api/v1/agents", token: tok}), 200)
	eventually(t, "rows written again", func() bool { return s.metric(`waooaw_gateway_audit_rows_total{result="written"}`) > written })
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
