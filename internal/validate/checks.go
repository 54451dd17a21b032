package validate

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/waooaw/waooaw/internal/services/backend"
	"github.com/waooaw/waooaw/internal/token"
)

// Check is one verification with a stable id.
type Check struct {
	ID   string
	Name string
	// Full marks the authenticated workflows of --suite full.
	Full bool
	// Security marks the attacker's checks of --suite security (security.go).
	Security bool
	// Service is where a failure most likely lies, for its log lines.
	Service string
	// Needs lists the services the check talks to.
	Needs []string
	run   func(ctx context.Context, t *Target, ev *evidence) (string, error)
}

// Checks returns every check, smoke first, then the full suite's, then the security suite's,
// in report order.
func Checks() []Check {
	return append([]Check{
		{ID: "backend-health", Name: "Backend health", Service: "backend", Needs: []string{"backend"}, run: backendHealth},
		{ID: "gateway-health", Name: "Gateway health", Service: "gateway", Needs: []string{"gateway", "backend"}, run: gatewayHealth},
		{ID: "cp-health", Name: "CP proxy health", Service: "cp", Needs: []string{"cp"}, run: portalHealth("CPURL", "cp-proxy")},
		{ID: "pp-health", Name: "PP proxy health", Service: "pp", Needs: []string{"pp"}, run: portalHealth("PPURL", "pp-proxy")},
		{ID: "cp-flow", Name: "CP → gateway flow", Service: "cp", Needs: []string{"cp", "gateway"}, run: portalFlow("CPURL")},
		{ID: "pp-flow", Name: "PP → gateway flow", Service: "pp", Needs: []string{"pp", "gateway"}, run: portalFlow("PPURL")},
		{ID: "gateway-backend", Name: "Gateway → backend", Service: "gateway", Needs: []string{"gateway", "backend"}, run: gatewayBackend},
		{ID: "auth-jwt", Name: "JWT authentication", Service: "gateway", Needs: []string{"gateway", "backend"}, run: authJWT},
		{ID: "middleware-stack", Name: "Middleware stack", Service: "gateway", Needs: []string{"gateway", "backend"}, run: middlewareStack},
		{ID: "database", Name: "Database", Service: "postgres", Needs: []string{"postgres"}, run: database},

		{ID: "trial-via-cp", Name: "Customer starts a trial through CP", Full: true, Service: "backend", Needs: []string{"cp", "pp", "gateway", "backend"}, run: trialViaCP},
		{ID: "conversion-via-pp", Name: "Subscription manager converts a trial through PP", Full: true, Service: "backend", Needs: []string{"cp", "pp", "gateway", "backend"}, run: conversionViaPP},
		{ID: "tenant-isolation", Name: "A tenant cannot see another tenant's trial", Full: true, Service: "backend", Needs: []string{"cp", "pp", "gateway", "backend"}, run: tenantIsolation},
		{ID: "trial-task-limit", Name: "Trial user hits the daily task limit (429)", Full: true, Service: "gateway", Needs: []string{"cp", "gateway"}, run: trialTaskLimit},
		{ID: "governor-redirect", Name: "Governor-only action redirects (307)", Full: true, Service: "gateway", Needs: []string{"pp", "gateway"}, run: governorRedirect},
		{ID: "correlation-round-trip", Name: "Correlation id round trip CP → backend", Full: true, Service: "gateway", Needs: []string{"cp", "gateway", "backend"}, run: correlationRoundTrip},
		{ID: "budget-headers", Name: "Budget headers on forwarded responses", Full: true, Service: "gateway", Needs: []string{"gateway", "backend"}, run: budgetHeaders},
	}, securityChecks()...)
}

func backendHealth(ctx context.Context, t *Target, ev *evidence) (string, error) {
	a, err := t.do(ctx, ev, call{url: t.BackendURL + "/health"})
	if err != nil {
		return "", err
	}
	var h struct {
		Status     string `json:"status"`
		Database   string `json:"database"`
		Migrations int    `json:"migrations"`
	}
	if err := a.json(&h); err != nil {
		return "", err
	}
	if a.status != http.StatusOK || h.Database != "connected" {
		return "", fmt.Errorf("status %d, database %q: want 200 and connected", a.status, h.Database)
	}
	return fmt.Sprintf("healthy, database connected, schema version %d", h.Migrations), nil
}

func gatewayHealth(ctx context.Context, t *Target, ev *evidence) (string, error) {
	a, err := t.do(ctx, ev, call{url: t.GatewayURL + "/health"})
	if err != nil {
		return "", err
	}
	var h map[string]any
	if err := a.json(&h); err != nil {
		return "", err
	}
	if a.status != http.StatusOK || h["backend"] != "reachable" {
		return "", fmt.Errorf("status %d, backend %v: want 200 and reachable (opa %v, redis %v, database %v)", a.status, h["backend"], h["opa"], h["redis"], h["database"])
	}
	return fmt.Sprintf("healthy; backend reachable, opa %v, redis %v", h["opa"], h["redis"]), nil
}

func portalURL(t *Target, field string) string {
	if field == "CPURL" {
		return t.CPURL
	}
	return t.PPURL
}

func portalHealth(field, service string) func(context.Context, *Target, *evidence) (string, error) {
	return func(ctx context.Context, t *Target, ev *evidence) (string, error) {
		a, err := t.do(ctx, ev, call{url: portalURL(t, field) + "/health"})
		if err != nil {
			return "", err
		}
		var h struct {
			Service string `json:"service"`
			Gateway string `json:"gateway"`
		}
		if err := a.json(&h); err != nil {
			return "", err
		}
		if a.status != http.StatusOK || h.Service != service {
			return "", fmt.Errorf("status %d, service %q: want 200 and %s (gateway %q)", a.status, h.Service, service, h.Gateway)
		}
		return "healthy, gateway " + h.Gateway, nil
	}
}

// portalFlow proves a request crosses the portal into the gateway: without a token the gateway
// answers 401 unauthorized, with the correlation id we sent, the path the client sent as its
// instance (the gateway serves /api/agents as /api/v1/agents but names what was asked for) and
// its auth timing.
func portalFlow(field string) func(context.Context, *Target, *evidence) (string, error) {
	return func(ctx context.Context, t *Target, ev *evidence) (string, error) {
		id := "verify-" + rand.Text()[:12]
		a, err := t.do(ctx, ev, call{url: portalURL(t, field) + "/api/agents", header: map[string]string{"X-Correlation-ID": id}})
		if err != nil {
			return "", err
		}
		p, err := expectProblem(a, http.StatusUnauthorized, "unauthorized")
		if err != nil {
			return "", err
		}
		if p.CorrelationID != id || a.header.Get("X-Correlation-ID") != id {
			return "", fmt.Errorf("correlation id %q in the body and %q in the header, want %q", p.CorrelationID, a.header.Get("X-Correlation-ID"), id)
		}
		if !strings.Contains(a.header.Get("Server-Timing"), "auth") || p.Instance != "/api/agents" {
			return "", fmt.Errorf("the 401 does not come from the gateway (Server-Timing %q, instance %q)", a.header.Get("Server-Timing"), p.Instance)
		}
		return "401 unauthorized from the gateway, correlation id kept", nil
	}
}

// authToken is a token the target accepts: minted when the key is at hand, else the given one.
func authToken(t *Target, sub string, roles []string, opts ...func(*token.Claims)) (string, error) {
	if t.Key != nil {
		return t.mint(sub, roles, opts...)
	}
	if t.Token != "" {
		return t.Token, nil
	}
	return "", errNeedsKey
}

func gatewayBackend(ctx context.Context, t *Target, ev *evidence) (string, error) {
	tok, err := authToken(t, "verify-viewer", []string{token.RoleCustomerAdmin}, customer(demoCustomerA))
	if err != nil {
		return "", err
	}
	a, err := t.do(ctx, ev, call{url: t.GatewayURL + "/api/v1/agents?limit=5", token: tok})
	if err != nil {
		return "", err
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
		Total int               `json:"total"`
	}
	if a.status != http.StatusOK {
		return "", fmt.Errorf("status %d, want 200", a.status)
	}
	if err := a.json(&page); err != nil {
		return "", err
	}
	if len(page.Items) == 0 || page.Total == 0 {
		return "", errors.New("no agents came back from the database")
	}
	return fmt.Sprintf("200 with %d of %d agents", len(page.Items), page.Total), nil
}

func authJWT(ctx context.Context, t *Target, ev *evidence) (string, error) {
	good, err := authToken(t, "verify-auth", []string{token.RoleCustomerAdmin}, customer(demoCustomerA))
	if err != nil {
		return "", err
	}
	url := t.GatewayURL + "/api/v1/agents?limit=1"
	a, err := t.do(ctx, ev, call{url: url, token: good})
	if err != nil {
		return "", err
	}
	if a.status != http.StatusOK {
		return "", fmt.Errorf("a valid token: status %d, want 200", a.status)
	}
	type attack struct {
		name, token, slug string
	}
	var attacks []attack
	if t.Key != nil {
		expired, _ := t.mint("verify-auth", []string{token.RoleCustomerAdmin}, customer(demoCustomerA), func(c *token.Claims) {
			c.IssuedAt = jwtDate(time.Now().Add(-2 * time.Hour))
			c.ExpiresAt = jwtDate(time.Now().Add(-time.Hour))
		})
		issuer, _ := t.mint("verify-auth", []string{token.RoleCustomerAdmin}, customer(demoCustomerA), func(c *token.Claims) { c.Issuer = "evil.example" })
		attacks = append(attacks, attack{"expired", expired, "token-expired"}, attack{"wrong issuer", issuer, "invalid-token"})
	} else {
		ev.add("expired and wrong-issuer tokens not tried: they need the stack's signing key")
	}
	attacks = append(attacks,
		attack{"bad signature", tamperSignature(good), "invalid-token"},
		attack{"alg none", algNone(good), "invalid-token"},
	)
	for _, at := range attacks {
		a, err := t.do(ctx, ev, call{url: url, token: at.token})
		if err != nil {
			return "", err
		}
		if _, err := expectProblem(a, http.StatusUnauthorized, at.slug); err != nil {
			return "", fmt.Errorf("%s token: %w", at.name, err)
		}
	}
	return fmt.Sprintf("valid token 200; %d forged or stale tokens refused with the right problem", len(attacks)), nil
}

func jwtDate(t time.Time) *jwt.NumericDate { return jwt.NewNumericDate(t) }

// tamperSignature flips the signature's first character.
func tamperSignature(tok string) string {
	i := strings.LastIndex(tok, ".") + 1
	if i <= 0 || i >= len(tok) {
		return tok + "x"
	}
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// algNone re-issues tok's payload unsigned, with alg "none".
func algNone(tok string) string {
	parts := strings.Split(tok, ".")
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	if len(parts) < 2 {
		return header + ".."
	}
	return header + "." + parts[1] + "."
}

func middlewareStack(ctx context.Context, t *Target, ev *evidence) (string, error) {
	tok, err := authToken(t, "verify-stack", []string{token.RoleCustomerAdmin}, customer(demoCustomerA))
	if err != nil {
		return "", err
	}
	a, err := t.do(ctx, ev, call{url: t.GatewayURL + "/api/v1/agents?limit=1", token: tok})
	if err != nil {
		return "", err
	}
	timing := a.header.Get("Server-Timing")
	ev.add("  Server-Timing: %s", timing)
	if a.status != http.StatusOK {
		return "", fmt.Errorf("an authenticated request: status %d, want 200 through every layer", a.status)
	}
	for _, layer := range []string{"auth", "rbac", "policy", "budget", "upstream"} {
		if !strings.Contains(timing, layer+";") {
			return "", fmt.Errorf("Server-Timing lacks %s: %q", layer, timing)
		}
	}
	if a.header.Get("X-Budget-Alert-Level") == "" {
		return "", errors.New("no X-Budget-Alert-Level on a forwarded response")
	}
	if t.Key == nil {
		ev.add("the 403 case not tried: it needs a token of another role (the stack's signing key)")
		return "every layer in Server-Timing, budget headers present", nil
	}
	viewer, err := t.mint("verify-viewer", []string{token.RoleViewer})
	if err != nil {
		return "", err
	}
	a, err = t.do(ctx, ev, call{method: http.MethodPost, url: t.GatewayURL + "/api/v1/customers", token: viewer,
		body: map[string]string{"name": "x", "email": "x@verify.waooaw.test"}})
	if err != nil {
		return "", err
	}
	if _, err := expectProblem(a, http.StatusForbidden, "permission-denied"); err != nil {
		return "", fmt.Errorf("a viewer creating a customer: %w", err)
	}
	return "every layer in Server-Timing, budget headers present, a role without the permission gets 403", nil
}

func database(ctx context.Context, t *Target, ev *evidence) (string, error) {
	if t.DatabaseURL == "" {
		return "", skipError("no database URL for this target (pass --database-url)")
	}
	conn, err := pgx.Connect(ctx, t.DatabaseURL)
	if err != nil {
		ev.add("connect: %v", err)
		return "", skipError("the database is not reachable from here: " + err.Error())
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var version int64
	var dirty bool
	const qv = `SELECT version, dirty FROM schema_migrations`
	if err := conn.QueryRow(ctx, qv).Scan(&version, &dirty); err != nil {
		ev.add("SQL: %s → %v", qv, err)
		return "", fmt.Errorf("read the schema version: %w", err)
	}
	ev.add("SQL: %s → %d, dirty=%v", qv, version, dirty)
	if want := int64(backend.SchemaVersion()); version != want || dirty {
		return "", fmt.Errorf("schema version %d (dirty %v), want %d", version, dirty, want)
	}
	var agents, customers, industries int
	const qs = `SELECT (SELECT count(*) FROM agents), (SELECT count(*) FROM customers WHERE id IN ('11111111-1111-4111-8111-111111111111','22222222-2222-4222-8222-222222222222','33333333-3333-4333-8333-333333333333')), (SELECT count(*) FROM industries)`
	if err := conn.QueryRow(ctx, qs).Scan(&agents, &customers, &industries); err != nil {
		ev.add("SQL: seed counts → %v", err)
		return "", fmt.Errorf("read the seed: %w", err)
	}
	ev.add("SQL: seed counts → agents %d, demo customers %d, industries %d", agents, customers, industries)
	if agents < 50 || customers != 3 || industries < 3 {
		return "", fmt.Errorf("seed incomplete: %d agents (≥ 50), %d demo customers (3), %d industries (≥ 3)", agents, customers, industries)
	}
	return fmt.Sprintf("schema version %d; seed present (%d agents, 3 demo customers)", version, agents), nil
}

// --- the authenticated workflows of --suite full; each makes its own data ---

// newCustomer creates a customer through PP as a subscription manager and returns its id.
func newCustomer(ctx context.Context, t *Target, ev *evidence, label string) (string, error) {
	sm, err := t.mint("verify-subscription-manager", []string{token.RoleSubscriptionManager})
	if err != nil {
		return "", err
	}
	email := fmt.Sprintf("%s-%s@verify.waooaw.test", label, strings.ToLower(rand.Text()[:10]))
	a, err := t.do(ctx, ev, call{method: http.MethodPost, url: t.PPURL + "/api/customers", token: sm,
		body: map[string]string{"name": "Verify " + label, "email": email}})
	if err != nil {
		return "", err
	}
	var c struct {
		ID string `json:"id"`
	}
	if a.status != http.StatusCreated || a.json(&c) != nil || c.ID == "" {
		return "", fmt.Errorf("create a customer through PP: status %d, want 201 with an id", a.status)
	}
	return c.ID, nil
}

// someAgent returns an active agent's id.
func someAgent(ctx context.Context, t *Target, ev *evidence, tok string, index int) (string, error) {
	a, err := t.do(ctx, ev, call{url: fmt.Sprintf("%s/api/agents?limit=1&offset=%d", t.CPURL, index), token: tok})
	if err != nil {
		return "", err
	}
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if a.status != http.StatusOK || a.json(&page) != nil || len(page.Items) == 0 {
		return "", fmt.Errorf("list agents through CP: status %d, want 200 with an agent", a.status)
	}
	return page.Items[0].ID, nil
}

// startTrial makes a fresh customer and starts a trial for it through CP, as its admin.
func startTrial(ctx context.Context, t *Target, ev *evidence, label string) (customerID, trialID, adminToken string, err error) {
	if customerID, err = newCustomer(ctx, t, ev, label); err != nil {
		return
	}
	if adminToken, err = t.mint("verify-"+label+"-admin", []string{token.RoleCustomerAdmin}, customer(customerID)); err != nil {
		return
	}
	agent, err := someAgent(ctx, t, ev, adminToken, 0)
	if err != nil {
		return
	}
	a, err := t.do(ctx, ev, call{method: http.MethodPost, url: t.CPURL + "/api/trials", token: adminToken, body: map[string]string{"agent_id": agent}})
	if err != nil {
		return
	}
	var tr struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		DaysRemaining int    `json:"days_remaining"`
	}
	if a.status != http.StatusCreated || a.json(&tr) != nil || tr.ID == "" {
		err = fmt.Errorf("start a trial through CP: status %d, want 201", a.status)
		return
	}
	if tr.Status != "active" || tr.DaysRemaining != 7 {
		err = fmt.Errorf("new trial reads status %q with %d days remaining, want active and 7", tr.Status, tr.DaysRemaining)
	}
	return customerID, tr.ID, adminToken, err
}

// readTrial reads a trial's status through CP.
func readTrial(ctx context.Context, t *Target, ev *evidence, tok, id string) (int, string, error) {
	a, err := t.do(ctx, ev, call{url: t.CPURL + "/api/trials/" + id, token: tok})
	if err != nil {
		return 0, "", err
	}
	var tr struct {
		Status string `json:"status"`
	}
	if a.status == http.StatusOK {
		if err := a.json(&tr); err != nil {
			return a.status, "", err
		}
	}
	return a.status, tr.Status, nil
}

func trialViaCP(ctx context.Context, t *Target, ev *evidence) (string, error) {
	_, trial, tok, err := startTrial(ctx, t, ev, "trial")
	if err != nil {
		return "", err
	}
	status, st, err := readTrial(ctx, t, ev, tok, trial)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK || st != "active" {
		return "", fmt.Errorf("reading the trial back: status %d, %q; want 200 active", status, st)
	}
	return "trial created (201, 7 days) and read back active through CP", nil
}

func conversionViaPP(ctx context.Context, t *Target, ev *evidence) (string, error) {
	cust, trial, tok, err := startTrial(ctx, t, ev, "convert")
	if err != nil {
		return "", err
	}
	agent, err := trialAgent(ctx, t, ev, tok, trial)
	if err != nil {
		return "", err
	}
	sm, err := t.mint("verify-subscription-manager", []string{token.RoleSubscriptionManager})
	if err != nil {
		return "", err
	}
	a, err := t.do(ctx, ev, call{method: http.MethodPost, url: t.PPURL + "/api/customers/" + cust + "/subscription", token: sm, body: map[string]string{"agent_id": agent}})
	if err != nil {
		return "", err
	}
	if a.status != http.StatusCreated {
		return "", fmt.Errorf("subscription through PP: status %d, want 201", a.status)
	}
	status, st, err := readTrial(ctx, t, ev, tok, trial)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK || st != "converted" {
		return "", fmt.Errorf("the trial reads %q (status %d) after the subscription, want converted", st, status)
	}
	return "subscription created through PP (201); the trial reads converted", nil
}

func trialAgent(ctx context.Context, t *Target, ev *evidence, tok, trial string) (string, error) {
	a, err := t.do(ctx, ev, call{url: t.CPURL + "/api/trials/" + trial, token: tok})
	if err != nil {
		return "", err
	}
	var tr struct {
		AgentID string `json:"agent_id"`
	}
	if a.status != http.StatusOK || a.json(&tr) != nil || tr.AgentID == "" {
		return "", fmt.Errorf("read the trial: status %d", a.status)
	}
	return tr.AgentID, nil
}

func tenantIsolation(ctx context.Context, t *Target, ev *evidence) (string, error) {
	_, trial, _, err := startTrial(ctx, t, ev, "tenant-a")
	if err != nil {
		return "", err
	}
	other, err := newCustomer(ctx, t, ev, "tenant-b")
	if err != nil {
		return "", err
	}
	b, err := t.mint("verify-tenant-b-user", []string{token.RoleCustomerUser}, customer(other))
	if err != nil {
		return "", err
	}
	status, _, err := readTrial(ctx, t, ev, b, trial)
	if err != nil {
		return "", err
	}
	if status != http.StatusNotFound {
		return "", fmt.Errorf("tenant B reading tenant A's trial: status %d, want 404", status)
	}
	a, err := t.do(ctx, ev, call{url: t.CPURL + "/api/trials", token: b})
	if err != nil {
		return "", err
	}
	if a.status != http.StatusOK || strings.Contains(string(a.body), trial) {
		return "", fmt.Errorf("tenant B's trial list: status %d, and it holds A's trial: %v", a.status, strings.Contains(string(a.body), trial))
	}
	return "another tenant's trial reads 404 and is absent from its list", nil
}

func trialTaskLimit(ctx context.Context, t *Target, ev *evidence) (string, error) {
	cust, err := newCustomer(ctx, t, ev, "trial-user")
	if err != nil {
		return "", err
	}
	sub := "verify-trial-" + strings.ToLower(rand.Text()[:10])
	tok, err := t.mint(sub, []string{token.RoleCustomerUser}, customer(cust), func(c *token.Claims) {
		c.TrialMode = true
		end := time.Now().Add(7 * 24 * time.Hour)
		c.TrialExpiresAt = &end
	})
	if err != nil {
		return "", err
	}
	agent, err := someAgent(ctx, t, ev, tok, 1)
	if err != nil {
		return "", err
	}
	// Every non-GET request is a task, whatever the backend answers (the second trial of the
	// same agent is a 409): the 11th of the day must be refused.
	quiet := &evidence{}
	for i := 1; i <= 10; i++ {
		a, err := t.do(ctx, quiet, call{method: http.MethodPost, url: t.CPURL + "/api/trials", token: tok, body: map[string]string{"agent_id": agent}})
		if err != nil {
			return "", err
		}
		if a.status == http.StatusTooManyRequests {
			ev.lines = append(ev.lines, quiet.lines...)
			return "", fmt.Errorf("task %d was already refused (429); the limit is 10 a day", i)
		}
	}
	ev.add("10 tasks (POST /api/trials) accepted by the gateway")
	a, err := t.do(ctx, ev, call{method: http.MethodPost, url: t.CPURL + "/api/trials", token: tok, body: map[string]string{"agent_id": agent}})
	if err != nil {
		return "", err
	}
	if _, err := expectProblem(a, http.StatusTooManyRequests, "trial-limit-exceeded"); err != nil {
		return "", fmt.Errorf("the 11th task: %w", err)
	}
	if a.header.Get("Retry-After") == "" {
		return "", errors.New("the 429 has no Retry-After")
	}
	return "the 11th task of the day answers 429 trial-limit-exceeded with Retry-After " + a.header.Get("Retry-After"), nil
}

func governorRedirect(ctx context.Context, t *Target, ev *evidence) (string, error) {
	orch, err := t.mint("verify-orchestrator", []string{token.RoleAgentOrchestrator})
	if err != nil {
		return "", err
	}
	a, err := t.do(ctx, ev, call{method: http.MethodPost, url: t.PPURL + "/api/agents", token: orch,
		body: map[string]any{"name": "Verify agent " + rand.Text()[:8], "industry": "sales", "specialty": "verification"}})
	if err != nil {
		return "", err
	}
	loc := a.header.Get("Location")
	ev.add("  Location: %s", loc)
	if a.status != http.StatusTemporaryRedirect {
		return "", fmt.Errorf("agent.create by an orchestrator: status %d, want 307", a.status)
	}
	u, err := url.Parse(loc)
	if err != nil || u.Query().Get("action") != "agent.create" {
		return "", fmt.Errorf("Location %q does not carry action=agent.create", loc)
	}
	if a.header.Get("X-Governor-Approval-Required") != "true" {
		return "", errors.New("no X-Governor-Approval-Required: true")
	}
	return "307 to the approval page with action=agent.create", nil
}

func correlationRoundTrip(ctx context.Context, t *Target, ev *evidence) (string, error) {
	tok, err := authToken(t, "verify-correlation", []string{token.RoleCustomerAdmin}, customer(demoCustomerA))
	if err != nil {
		return "", err
	}
	id := "verify-corr-" + rand.Text()[:16]
	a, err := t.do(ctx, ev, call{url: t.CPURL + "/api/agents?limit=1", token: tok, header: map[string]string{"X-Correlation-ID": id}})
	if err != nil {
		return "", err
	}
	if a.status != http.StatusOK || a.header.Get("X-Correlation-ID") != id {
		return "", fmt.Errorf("status %d, X-Correlation-ID %q: want 200 and %q", a.status, a.header.Get("X-Correlation-ID"), id)
	}
	if t.Logs == nil {
		return "200, correlation id echoed (backend logs not at hand to confirm the last hop)", nil
	}
	// The backend's own access log proves the id reached it unchanged; its line is written
	// as the response leaves, so give it a moment.
	deadline := time.Now().Add(2 * time.Second)
	for {
		for _, line := range t.Logs("backend", 200) {
			if strings.Contains(line, `"correlation_id":"`+id+`"`) {
				ev.add("backend log: %s", line)
				return "the id sent to CP came back and is in the backend's log", nil
			}
		}
		if time.Now().After(deadline) {
			return "", errors.New("the backend's log has no line with the correlation id sent to CP")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func budgetHeaders(ctx context.Context, t *Target, ev *evidence) (string, error) {
	tok, err := authToken(t, "verify-budget", []string{token.RoleCustomerAdmin}, customer(demoCustomerA))
	if err != nil {
		return "", err
	}
	a, err := t.do(ctx, ev, call{url: t.GatewayURL + "/api/v1/industries", token: tok})
	if err != nil {
		return "", err
	}
	level, platform, agent := a.header.Get("X-Budget-Alert-Level"), a.header.Get("X-Platform-Utilization"), a.header.Get("X-Agent-Utilization")
	ev.add("  X-Budget-Alert-Level: %s · X-Platform-Utilization: %s · X-Agent-Utilization: %s", level, platform, agent)
	if a.status != http.StatusOK {
		return "", fmt.Errorf("status %d, want 200", a.status)
	}
	switch level {
	case "normal", "warning", "high", "critical":
	default:
		return "", fmt.Errorf("X-Budget-Alert-Level %q is not a level", level)
	}
	for name, v := range map[string]string{"X-Platform-Utilization": platform, "X-Agent-Utilization": agent} {
		if i := strings.Index(v, "."); i < 0 || len(v)-i-1 != 2 {
			return "", fmt.Errorf("%s %q is not a number with two decimals", name, v)
		}
	}
	return fmt.Sprintf("alert level %s, platform %s%%, agent %s%%", level, platform, agent), nil
}
