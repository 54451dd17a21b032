package gateway_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waooaw/waooaw/internal/services/gateway"
	"github.com/waooaw/waooaw/internal/token"
)

func TestPublicEndpointsNeedNoToken(t *testing.T) {
	s := newStack(t)
	h := ok(t, s.do(req{path: "/health"}), 200)
	for k, want := range map[string]string{"status": "healthy", "service": "plant-gateway", "backend": "reachable", "opa": "up", "redis": "up", "database": "up"} {
		if h[k] != want {
			t.Errorf("health %s = %v, want %s", k, h[k], want)
		}
	}
	ok(t, s.do(req{path: "/ready"}), 200)
	ok(t, s.do(req{path: "/healthz"}), 200)
	jwks := ok(t, s.do(req{path: "/.well-known/jwks.json"}), 200)
	if keys := jwks["keys"].([]any); len(keys) != 1 || keys[0].(map[string]any)["kid"] != signingKey.KeyID() {
		t.Errorf("jwks = %v", jwks)
	}
	ok(t, s.do(req{path: "/openapi.json"}), 200)
	if r := s.do(req{path: "/docs"}); r.status != 200 || !strings.Contains(string(r.body), "/api/v1/agents") {
		t.Errorf("/docs: %d", r.status)
	}
}

func TestAuthenticatedRequestCrossesEveryLayer(t *testing.T) {
	s := newStack(t)
	r := s.do(req{path: "/api/agents?limit=5", token: role(t, token.RoleViewer)})
	body := ok(t, r, 200)
	if body["total"] != float64(50) || len(body["items"].([]any)) != 5 {
		t.Fatalf("agents from the database: %v", body["total"])
	}
	st := r.header.Get("Server-Timing")
	for _, layer := range []string{"auth;dur=", "rbac;dur=", "policy;dur=", "budget;dur=", "upstream;dur="} {
		if !strings.Contains(st, layer) {
			t.Errorf("Server-Timing %q lacks %s", st, layer)
		}
	}
	if r.header.Get("X-Budget-Alert-Level") != "normal" || r.header.Get("X-Platform-Utilization") == "" ||
		r.header.Get("X-Agent-Utilization") != "0.10" || r.header.Get("X-Target-Backend") != "production" {
		t.Errorf("budget headers: level %q platform %q agent %q target %q", r.header.Get("X-Budget-Alert-Level"),
			r.header.Get("X-Platform-Utilization"), r.header.Get("X-Agent-Utilization"), r.header.Get("X-Target-Backend"))
	}
	// The canonical path works the same, and an unknown API path stops at the gateway.
	ok(t, s.do(req{path: "/api/v1/agents/" + agentAria, token: role(t, token.RoleViewer)}), 200)
	problem(t, s.do(req{path: "/api/v1/robots", token: role(t, token.RoleViewer)}), 404, "not-found")
	problem(t, s.do(req{path: "/api/v1/robots"}), 401, "unauthorized")
	problem(t, s.do(req{method: "PUT", path: "/api/v1/agents", token: role(t, token.RoleViewer)}), 405, "method-not-allowed")
}

// TestJWTAttacks: every malformed, forged or misused token is a 401 problem, never a 500.
func TestJWTAttacks(t *testing.T) {
	s := newStack(t, withEcho())
	valid := role(t, token.RoleViewer)
	parts := strings.Split(valid, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	unsigned := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	pubPEM, _ := signingKey.PublicKeyPEM()
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "x", "user_id": "x", "email": "x@x", "roles": []string{"admin"}, "iss": "waooaw.com",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
	})
	hsToken, _ := hs.SignedString(pubPEM)
	tampered := parts[0] + "." + b64([]byte(`{"sub":"x","user_id":"x","email":"x@x","roles":["admin"],"iss":"waooaw.com","iat":1,"exp":9999999999}`)) + "." + parts[2]
	huge := mint(t, []string{token.RoleViewer}, func(c *token.Claims) { c.Extra = map[string]any{"pad": strings.Repeat("x", 9<<10)} })

	cases := []struct {
		name, header, slug string
	}{
		{"alg none", "Bearer " + unsigned, "invalid-token"},
		{"HS256 with the public key", "Bearer " + hsToken, "invalid-token"},
		{"expired", "Bearer " + mint(t, []string{token.RoleViewer}, func(c *token.Claims) {
			c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour)), jwt.NewNumericDate(time.Now().Add(-time.Minute))
		}), "token-expired"},
		{"iat in the future", "Bearer " + mint(t, []string{token.RoleViewer}, func(c *token.Claims) {
			c.IssuedAt, c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour)), jwt.NewNumericDate(time.Now().Add(2*time.Hour))
		}), "invalid-token"},
		{"lifetime over 24h", "Bearer " + mint(t, []string{token.RoleViewer}, func(c *token.Claims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(25 * time.Hour))
		}), "invalid-token"},
		{"wrong issuer", "Bearer " + mint(t, []string{token.RoleViewer}, func(c *token.Claims) { c.Issuer = "evil.com" }), "invalid-token"},
		{"missing email", "Bearer " + mint(t, []string{token.RoleViewer}, func(c *token.Claims) { c.Email = "" }), "invalid-token"},
		{"missing sub", "Bearer " + mint(t, []string{token.RoleViewer}, func(c *token.Claims) { c.Subject = "" }), "invalid-token"},
		{"missing user_id", "Bearer " + mint(t, []string{token.RoleViewer}, func(c *token.Claims) { c.UserID = "" }), "invalid-token"},
		{"empty roles", "Bearer " + mint(t, nil, nil), "invalid-token"},
		{"unknown role", "Bearer " + mint(t, []string{"root"}, nil), "invalid-token"},
		{"trial without expiry", "Bearer " + mint(t, []string{token.RoleCustomerUser}, func(c *token.Claims) { c.TrialMode = true }), "invalid-token"},
		{"tampered payload", "Bearer " + tampered, "invalid-token"},
		{"truncated", "Bearer " + valid[:len(valid)-10], "invalid-token"},
		{"9 KiB token", "Bearer " + huge, "invalid-token"},
		{"no scheme", valid, "invalid-token-format"},
		{"basic", "Basic dXNlcjpwYXNz", "invalid-token-format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(req{path: "/api/v1/agents", header: map[string]string{"Authorization": c.header}})
			problem(t, r, 401, c.slug)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("two Authorization headers", func(t *testing.T) {
		r, _ := http.NewRequest("GET", s.url+"/api/v1/agents", nil)
		r.Header.Add("Authorization", "Bearer "+valid)
		r.Header.Add("Authorization", "Bearer "+valid)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("status %d, want 401", res.StatusCode)
		}
	})
	t.Run("lower-case bearer is accepted", func(t *testing.T) {
		ok(t, s.do(req{path: "/api/v1/agents", header: map[string]string{"Authorization": "bearer " + valid}}), 200)
	})
	if n := s.echo.hits.Load(); n != 1 {
		t.Errorf("%d requests reached the upstream, want only the accepted one", n)
	}
}

// TestIdentitySpoofing: headers a client invents never reach the backend as sent and never
// change a decision.
func TestIdentitySpoofing(t *testing.T) {
	s := newStack(t, withEcho())
	tok := role(t, token.RoleCustomerUser)
	forged := map[string]string{
		"X-User-ID": "admin", "X-User-Roles": "admin", "X-Customer-ID": customerB,
		"X-Gateway-Type": "internal", "X-Forwarded-For": "10.0.0.1", "X-Gateway-Trusted": "yes",
	}
	ok(t, s.do(req{path: "/api/v1/agents", token: tok, header: forged}), 200)
	got := s.echo.lastRequest().Header
	if got.Get("X-User-ID") != "user-customer_user" || got.Get("X-Customer-ID") != customerA || got.Get("X-User-Roles") != "customer_user" {
		t.Errorf("identity upstream: user %q customer %q roles %q", got.Get("X-User-ID"), got.Get("X-Customer-ID"), got.Get("X-User-Roles"))
	}
	if got.Get("X-Gateway-Type") != "direct" || got.Get("X-Gateway-Trusted") != "" {
		t.Errorf("gateway headers upstream: type %q trusted %q", got.Get("X-Gateway-Type"), got.Get("X-Gateway-Trusted"))
	}
	if xff := got.Get("X-Forwarded-For"); strings.Contains(xff, "10.0.0.1") || xff == "" {
		t.Errorf("X-Forwarded-For upstream = %q", xff)
	}
	if got.Get("Authorization") != "Bearer "+tok {
		t.Error("the caller's token must reach the backend unchanged (it verifies it too)")
	}
	// A customer forging admin headers is still refused an admin permission.
	problem(t, s.do(req{method: "DELETE", path: "/api/v1/agents/" + agentAria, token: tok, header: forged}), 403, "permission-denied")
}

func TestRBACMatrixSample(t *testing.T) {
	s := newStack(t, withEcho())
	body := map[string]any{"agent_id": agentAria}
	cases := []struct {
		role, method, path string
		status             int
		permission         string
	}{
		{token.RoleViewer, "GET", "/api/v1/agents", 200, ""},
		{token.RoleViewer, "GET", "/api/v1/industries", 200, ""},
		{token.RoleViewer, "GET", "/api/v1/customers", 403, "customer.view"},
		{token.RoleViewer, "POST", "/api/v1/trials", 403, "trial.create"},
		{token.RoleCustomerUser, "POST", "/api/v1/trials", 200, ""},
		{token.RoleCustomerUser, "PATCH", "/api/v1/trials/" + agentAria, 403, "trial.update"},
		{token.RoleCustomerAdmin, "PATCH", "/api/v1/trials/" + agentAria, 200, ""},
		{token.RoleHelpdeskAgent, "GET", "/api/v1/customers/" + customerA, 200, ""},
		{token.RoleHelpdeskAgent, "POST", "/api/v1/customers", 403, "customer.create"},
		{token.RoleSubscriptionManager, "POST", "/api/v1/customers", 200, ""},
		{token.RoleSubscriptionManager, "DELETE", "/api/v1/customers/" + customerA + "/subscriptions/" + agentAria, 200, ""},
		{token.RoleInfrastructureEngineer, "GET", "/api/v1/trials", 403, "trial.view"},
		{token.RoleIndustryManager, "POST", "/api/v1/agents", 403, "agent.create"},
		{token.RoleAgentOrchestrator, "DELETE", "/api/v1/agents/" + agentAria, 403, "agent.delete"},
		{token.RoleCustomerAdmin, "POST", "/api/v1/customers/" + customerA + "/subscription", 200, ""},
		{token.RoleCustomerUser, "POST", "/api/v1/customers/" + customerA + "/subscription", 403, "subscription.create"},
	}
	for _, c := range cases {
		t.Run(c.role+" "+c.method+" "+c.path, func(t *testing.T) {
			var b any
			if c.method == "POST" || c.method == "PATCH" {
				b = body
			}
			r := s.do(req{method: c.method, path: c.path, token: role(t, c.role), body: b})
			if c.status == 200 {
				ok(t, r, 200)
				return
			}
			p := problem(t, r, 403, "permission-denied")
			res, act, _ := strings.Cut(c.permission, ".")
			if p["required_permission"] != c.permission || p["resource"] != res || p["action"] != act {
				t.Errorf("403 members: %v", p)
			}
			if !strings.Contains(p["detail"].(string), "admin") {
				t.Errorf("detail should name the roles that would be allowed: %v", p["detail"])
			}
		})
	}
}

func TestTrialExpiredAndTaskLimit(t *testing.T) {
	s := newStack(t, withEcho())
	expired := mint(t, []string{token.RoleCustomerUser}, func(c *token.Claims) {
		past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		c.TrialMode, c.TrialExpiresAt = true, &past
	})
	p := problem(t, s.do(req{path: "/api/v1/agents", token: expired}), 403, "trial-expired")
	if p["upgrade_url"] != "http://cp.test/upgrade" || p["trial_expires_at"] == nil {
		t.Errorf("trial-expired members: %v", p)
	}

	trial := mint(t, []string{token.RoleCustomerUser}, func(c *token.Claims) {
		end := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
		c.TrialMode, c.TrialExpiresAt = true, &end
	})
	for i := 1; i <= 10; i++ {
		ok(t, s.do(req{method: "POST", path: "/api/v1/trials", token: trial, body: map[string]any{"agent_id": agentAria}}), 200)
		// Reads are not tasks.
		ok(t, s.do(req{path: "/api/v1/trials", token: trial}), 200)
	}
	before := s.echo.hits.Load()
	r := s.do(req{method: "POST", path: "/api/v1/trials", token: trial, body: map[string]any{"agent_id": agentAria}})
	p = problem(t, r, 429, "trial-limit-exceeded")
	midnight := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if p["task_count"] != float64(10) || p["limit"] != float64(10) || p["reset_at"] != midnight.Format(time.RFC3339) || p["upgrade_url"] == nil {
		t.Errorf("429 members: %v", p)
	}
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || retry <= 0 || retry > 86400 || time.Duration(retry)*time.Second < time.Until(midnight)-2*time.Second {
		t.Errorf("Retry-After %q, want the seconds to %s", r.header.Get("Retry-After"), midnight)
	}
	if s.echo.hits.Load() != before {
		t.Error("the refused task reached the backend")
	}
	if r := s.do(req{path: "/api/v1/trials", token: trial}); r.status != 200 {
		t.Errorf("a read after the limit: %d", r.status)
	}
}

func TestGovernor(t *testing.T) {
	s := newStack(t)
	body := map[string]any{"name": "Governed Agent", "industry": "sales", "specialty": "Deals"}
	r := s.do(req{method: "POST", path: "/api/v1/agents", token: role(t, token.RoleAgentOrchestrator), body: body,
		header: map[string]string{"X-Correlation-ID": "gov-1"}})
	if r.status != 307 || r.header.Get("X-Governor-Approval-Required") != "true" || r.header.Get("X-Governor-Action") != "agent.create" {
		t.Fatalf("orchestrator: %d %v", r.status, r.header)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || loc.Host != "pp.test" {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("action") != "agent.create" || q.Get("user_id") != "user-agent_orchestrator" || q.Get("resource") != "/api/v1/agents" || q.Get("correlation_id") != "gov-1" {
		t.Errorf("approval query %v", q)
	}
	governor := mint(t, []string{token.RoleAdmin}, func(c *token.Claims) { c.GovernorAgentID = "gov-agent" })
	created := ok(t, s.do(req{method: "POST", path: "/api/v1/agents", token: governor, body: body}), 201)
	if created["name"] != "Governed Agent" {
		t.Errorf("created %v", created)
	}
	// An admin without the governor claim is redirected too.
	if r := s.do(req{method: "DELETE", path: "/api/v1/agents/" + agentAria, token: role(t, token.RoleAdmin)}); r.status != 307 {
		t.Errorf("admin without governor claim: %d", r.status)
	}
}

func TestBudgetCapsUnderConcurrency(t *testing.T) {
	// Cost 1000 µ$, agent cap 10 000 µ$: exactly ten requests of one agent fit in a day.
	s := newStack(t, withEcho(), withLimits(10_000, 100_000_000))
	tok := mint(t, []string{token.RoleViewer}, func(c *token.Claims) { c.AgentID = "agent-budget" })
	const n = 30
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest("GET", s.url+"/api/v1/agents", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			statuses[i] = res.StatusCode
		}()
	}
	wg.Wait()
	passed := 0
	for _, st := range statuses {
		switch st {
		case 200:
			passed++
		case 402:
		default:
			t.Errorf("status %d", st)
		}
	}
	if passed != 10 || s.echo.hits.Load() != 10 {
		t.Fatalf("%d passed, %d reached the upstream; want exactly 10", passed, s.echo.hits.Load())
	}
	r := s.do(req{path: "/api/v1/agents", token: tok})
	p := problem(t, r, 402, "budget-exceeded")
	ab := p["agent_budget"].(map[string]any)
	if ab["limit_usd"] != 0.01 || ab["spent_usd"] != 0.01 || ab["remaining_usd"] != float64(0) || ab["utilization_percent"] != float64(100) {
		t.Errorf("agent_budget %v", ab)
	}
	if p["platform_budget"] == nil || p["alert_level"] == nil || r.header.Get("Retry-After") == "" {
		t.Errorf("402 body %v, Retry-After %q", p, r.header.Get("Retry-After"))
	}
	// Refused requests were not charged: the platform spend is exactly ten requests.
	other := mint(t, []string{token.RoleViewer}, func(c *token.Claims) { c.AgentID = "agent-other" })
	r = s.do(req{path: "/api/v1/agents", token: other})
	ok(t, r, 200)
	if r.header.Get("X-Platform-Utilization") != "0.01" { // 11 000 µ$ of 100 $
		t.Errorf("platform utilisation %q after 11 charged requests", r.header.Get("X-Platform-Utilization"))
	}
}

func TestPlatformCapAndAlertLevel(t *testing.T) {
	s := newStack(t, withEcho(), withLimits(1_000_000, 5_000))
	var levels []string
	for i := range 5 {
		tok := mint(t, []string{token.RoleViewer}, func(c *token.Claims) { c.AgentID = fmt.Sprintf("a%d", i) })
		r := s.do(req{path: "/api/v1/agents", token: tok})
		ok(t, r, 200)
		levels = append(levels, r.header.Get("X-Budget-Alert-Level"))
	}
	if strings.Join(levels, ",") != "normal,normal,normal,warning,critical" {
		t.Errorf("alert levels %v at 20..100 %%", levels)
	}
	p := problem(t, s.do(req{path: "/api/v1/agents", token: role(t, token.RoleViewer)}), 402, "budget-exceeded")
	if p["alert_level"] != "critical" {
		t.Errorf("alert_level %v", p["alert_level"])
	}
}

func TestCORSPreflightNeedsNoToken(t *testing.T) {
	s := newStack(t, withEcho(), func(_ *stack, c *gateway.Config) { c.CORSOrigins = []string{"http://localhost:3000"} })
	r := s.do(req{method: "OPTIONS", path: "/api/v1/agents", header: map[string]string{
		"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}})
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" {
		t.Errorf("preflight: %d, allow-origin %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	if s.echo.hits.Load() != 0 {
		t.Error("the preflight reached the backend")
	}
}

func TestCorrelationIDReachesTheBackend(t *testing.T) {
	s := newStack(t, withEcho())
	r := s.do(req{path: "/api/v1/agents", token: role(t, token.RoleViewer), header: map[string]string{"X-Correlation-ID": "corr-42"}})
	ok(t, r, 200)
	if got := s.echo.lastRequest().Header.Get("X-Correlation-ID"); got != "corr-42" || r.header.Get("X-Correlation-ID") != "corr-42" {
		t.Errorf("correlation id upstream %q, on the response %q", got, r.header.Get("X-Correlation-ID"))
	}
}

func TestSandboxRouting(t *testing.T) {
	sandbox := newEchoUpstream(t)
	s := newStack(t, withEcho(), func(_ *stack, c *gateway.Config) { c.SandboxURL = mustURL(sandbox.srv.URL) })
	trial := mint(t, []string{token.RoleCustomerUser}, func(c *token.Claims) {
		end := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		c.TrialMode, c.TrialExpiresAt = true, &end
	})
	r := s.do(req{path: "/api/v1/agents", token: trial})
	if ok(t, r, 200); r.header.Get("X-Target-Backend") != "sandbox" || sandbox.hits.Load() != 1 || s.echo.hits.Load() != 0 {
		t.Errorf("trial user: target %q, sandbox %d, production %d", r.header.Get("X-Target-Backend"), sandbox.hits.Load(), s.echo.hits.Load())
	}
	r = s.do(req{path: "/api/v1/agents", token: role(t, token.RoleCustomerUser)})
	if ok(t, r, 200); r.header.Get("X-Target-Backend") != "production" || s.echo.hits.Load() != 1 {
		t.Errorf("paying user: target %q", r.header.Get("X-Target-Backend"))
	}
}

func TestAuditRows(t *testing.T) {
	s := newStack(t, withPortalSecret(testPortalSecret))
	ok(t, s.do(req{path: "/api/v1/agents", token: role(t, token.RoleViewer), header: map[string]string{"X-Correlation-ID": "audit-ok",
		"X-Gateway-Type": "CP", "X-Waooaw-Portal-Secret": testPortalSecret}}), 200)
	problem(t, s.do(req{method: "POST", path: "/api/v1/customers", token: role(t, token.RoleViewer), body: map[string]any{},
		header: map[string]string{"X-Correlation-ID": "audit-denied"}}), 403, "permission-denied")
	problem(t, s.do(req{path: "/api/v1/agents", header: map[string]string{"X-Correlation-ID": "audit-anon"}}), 401, "unauthorized")
	type row struct {
		outcome, layer, portal string
		status                 int
		permission, user       *string
		upstream               *float64
	}
	read := func(id string) (r row, found bool) {
		err := s.pool.QueryRow(context.Background(), `SELECT outcome, layer, gateway_type, status_code, permission, user_id, upstream_ms
			FROM gateway_audit_logs WHERE correlation_id = $1`, id).Scan(&r.outcome, &r.layer, &r.portal, &r.status, &r.permission, &r.user, &r.upstream)
		return r, err == nil
	}
	defer func() {
		if t.Failed() {
			t.Log(s.gwLog.String())
		}
	}()
	var allowed, denied, anon row
	eventually(t, "audit rows written", func() bool {
		var a, b, c bool
		allowed, a = read("audit-ok")
		denied, b = read("audit-denied")
		anon, c = read("audit-anon")
		return a && b && c
	})
	if allowed.outcome != "allowed" || allowed.layer != "upstream" || allowed.portal != "CP" || allowed.status != 200 ||
		*allowed.permission != "agent.view" || *allowed.user != "user-viewer" || allowed.upstream == nil {
		t.Errorf("allowed row %+v", allowed)
	}
	if denied.outcome != "denied" || denied.layer != "rbac" || denied.status != 403 || *denied.permission != "customer.create" || denied.portal != "direct" {
		t.Errorf("denied row %+v", denied)
	}
	if anon.outcome != "denied" || anon.layer != "auth" || anon.status != 401 || anon.user != nil {
		t.Errorf("anonymous row %+v", anon)
	}
}

func TestBodyLimit(t *testing.T) {
	s := newStack(t, withEcho())
	big := `{"agent_id":"` + strings.Repeat("a", 11<<20) + `"}`
	problem(t, s.do(req{method: "POST", path: "/api/v1/trials", token: role(t, token.RoleCustomerUser), body: big}), 413, "payload-too-large")
	if s.echo.hits.Load() != 0 {
		t.Error("an oversized body reached the backend")
	}
}
