package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/services/apidoc"
	"github.com/waooaw/waooaw/internal/token"
)

// caller is one kind of identity the parity test tries on every route.
type caller struct {
	name   string
	roles  []string
	mutate func(*token.Claims)
}

func parityCallers() []caller {
	var cs []caller
	for _, r := range token.Roles() {
		cs = append(cs, caller{name: r, roles: []string{r}})
	}
	for _, r := range token.Roles() {
		if !token.IsCustomerRole(r) {
			// A platform role that names a customer is that tenant's: still the same permissions.
			cs = append(cs, caller{name: r + "+customer", roles: []string{r}, mutate: func(c *token.Claims) { c.CustomerID = customerA }})
		}
	}
	future, past := time.Now().Add(72*time.Hour), time.Now().Add(-time.Hour)
	cs = append(cs,
		caller{name: "governor", roles: []string{token.RoleAdmin}, mutate: func(c *token.Claims) { c.GovernorAgentID = "gov-1" }},
		caller{name: "admin with a blank governor id", roles: []string{token.RoleAdmin}, mutate: func(c *token.Claims) { c.GovernorAgentID = " " }},
		caller{name: "orchestrator with a governor id", roles: []string{token.RoleAgentOrchestrator}, mutate: func(c *token.Claims) { c.GovernorAgentID = "gov-1" }},
		caller{name: "trial customer_admin", roles: []string{token.RoleCustomerAdmin}, mutate: func(c *token.Claims) { c.TrialMode, c.TrialExpiresAt = true, &future }},
		caller{name: "trial customer_user", roles: []string{token.RoleCustomerUser}, mutate: func(c *token.Claims) { c.TrialMode, c.TrialExpiresAt = true, &future }},
		caller{name: "expired trial customer_admin", roles: []string{token.RoleCustomerAdmin}, mutate: func(c *token.Claims) { c.TrialMode, c.TrialExpiresAt = true, &past }},
		caller{name: "expired trial subscription_manager", roles: []string{token.RoleSubscriptionManager}, mutate: func(c *token.Claims) { c.TrialMode, c.TrialExpiresAt = true, &past }},
		caller{name: "customer_admin+viewer", roles: []string{token.RoleCustomerAdmin, token.RoleViewer}},
		caller{name: "admin+customer_user", roles: []string{token.RoleAdmin, token.RoleCustomerUser}, mutate: func(c *token.Claims) { c.CustomerID = customerA }},
	)
	return cs
}

// verdict is what a door decided: allowed (anything the handler answered), or the refusal.
func verdict(r response) string {
	switch r.status {
	case 401, 403, 307, 402, 429:
		// HEAD answers and redirects carry no problem body: the status alone is the verdict.
		typ, _ := mapOf(r)["type"].(string)
		slug := strings.TrimPrefix(typ, "https://waooaw.com/errors/")
		return fmt.Sprintf("denied %d %s", r.status, slug)
	case 500, 502, 503, 504:
		return fmt.Sprintf("failed %d", r.status)
	}
	return "allowed"
}

func mapOf(r response) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m) // not a problem body: no slug
	return m
}

// TestGatewayAndBackendAgree walks every API route × every kind of caller and asserts that the
// backend's own port allows exactly what the gateway allows, refusing the rest the same way (the
// gateway redirects a Governor-only action to the approval UI; the backend, which has no UI to
// send anyone to, refuses it).
func TestGatewayAndBackendAgree(t *testing.T) {
	s := newStack(t)
	direct := *s
	direct.url = s.cfg.BackendURL.String()

	routes, err := apidoc.Routes()
	if err != nil {
		t.Fatal(err)
	}
	const someID = "00000000-0000-4000-8000-000000000000"
	allowed, denied, n := 0, 0, 0
	for _, rt := range routes {
		if rt.Permission == "" {
			continue
		}
		path := strings.NewReplacer("{id}", someID, "{sid}", someID).Replace(rt.Path)
		methods := []string{rt.Method}
		if rt.Method == "GET" {
			methods = append(methods, "HEAD")
		}
		for _, method := range methods {
			for _, c := range parityCallers() {
				n++
				sub := fmt.Sprintf("parity-%d", n) // fresh budget and trial counters for each request
				tok := mint(t, c.roles, func(cl *token.Claims) {
					cl.Subject, cl.UserID = sub, sub
					if c.mutate != nil {
						c.mutate(cl)
					}
				})
				var body any
				if method == "POST" || method == "PATCH" {
					body = map[string]any{}
				}
				gw := s.do(req{method: method, path: path, token: tok, body: body})
				be := direct.do(req{method: method, path: path, token: tok, body: body})
				gv, bv := verdict(gw), verdict(be)
				want := gv
				if gw.status == 307 {
					want = "denied 403 permission-denied"
				}
				if strings.HasPrefix(gv, "failed") || bv != want {
					t.Errorf("%s %s as %s: gateway %s, backend %s: %.200s", method, rt.Path, c.name, gv, bv, be.body)
					continue
				}
				if gv == "allowed" {
					allowed++
				} else {
					denied++
				}
			}
		}
	}
	t.Logf("%d requests at each door: %d allowed, %d denied by both", n, allowed, denied)
	if allowed == 0 || denied == 0 {
		t.Errorf("the walk is degenerate: %d allowed, %d denied", allowed, denied)
	}
}
