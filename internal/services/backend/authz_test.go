package backend_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/token"
)

// TestBackendDoorEnforcesThePolicy replays, on the backend's own port, what the gateway forbids:
// the backend must refuse it the same way. (TestGatewayAndBackendAgree in the gateway package
// walks every route × role at both doors.)
func TestBackendDoorEnforcesThePolicy(t *testing.T) {
	s := newStack(t)
	agent := s.firstAgentID()
	tr := s.expect(s.do("POST", "/api/v1/trials", mint(t, customerA, token.RoleCustomerAdmin), map[string]any{"agent_id": agent}), 201, "")
	trialPath := "/api/v1/trials/" + tr["id"].(string)

	user := mint(t, customerA, token.RoleCustomerUser)
	p := s.expect(s.do("POST", "/api/v1/agents", user, map[string]any{"name": "Rogue", "industry": "sales", "specialty": "x"}), 403, "permission-denied")
	if p["required_permission"] != "agent.create" {
		t.Errorf("required_permission %v", p["required_permission"])
	}
	s.expect(s.do("DELETE", "/api/v1/agents/"+agent, user, nil), 403, "permission-denied")
	s.expect(s.do("PATCH", trialPath, user, map[string]any{"status": "cancelled"}), 403, "permission-denied")
	s.expect(s.do("POST", "/api/v1/customers", mint(t, "", token.RoleViewer), map[string]any{"name": "X", "email": "x@example.com"}), 403, "permission-denied")
	// An orchestrator passes RBAC for agent.create but is no Governor: the gateway redirects to the
	// approval UI; the backend, with no UI to send anyone to, refuses.
	p = s.expect(s.do("POST", "/api/v1/agents", mint(t, "", token.RoleAgentOrchestrator), map[string]any{"name": "Rogue", "industry": "sales", "specialty": "x"}), 403, "permission-denied")
	if p["governor_approval_required"] != true {
		t.Errorf("governor refusal lacks governor_approval_required: %v", p)
	}
	if n := s.count("agents"); n != 50 {
		t.Errorf("refused requests wrote agents: %d", n)
	}
	if tr := s.expect(s.do("GET", trialPath, user, nil), 200, ""); tr["status"] != "active" {
		t.Errorf("refused PATCH changed the trial: %v", tr["status"])
	}

	// An expired trial token reads nothing.
	c := token.NewClaims("trial-user", "trial@example.com", []string{token.RoleCustomerUser}, 15*time.Minute, time.Now())
	c.CustomerID, c.TrialMode = customerA, true
	ended := time.Now().Add(-time.Hour).Truncate(time.Second)
	c.TrialExpiresAt = &ended
	expired, err := signingKey.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	p = s.expect(s.do("GET", "/api/v1/agents", expired, nil), 403, "trial-expired")
	if p["trial_expires_at"] != ended.UTC().Format(time.RFC3339) {
		t.Errorf("trial_expires_at %v", p["trial_expires_at"])
	}
}

// TestHeadOnReadRoutes: HEAD is GET without a body (RFC 9110 §9.3.2), authorised the same way.
func TestHeadOnReadRoutes(t *testing.T) {
	s := newStack(t)
	r := s.do(http.MethodHead, "/api/v1/agents", mint(t, customerA, token.RoleCustomerUser), nil)
	if r.status != 200 || len(r.body) != 0 || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("HEAD /api/v1/agents: %d %q, body %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
	if r := s.do(http.MethodHead, "/api/v1/customers", mint(t, "", token.RoleViewer), nil); r.status != 403 {
		t.Errorf("HEAD /api/v1/customers as viewer: %d, want 403", r.status)
	}
	if r := s.do(http.MethodHead, "/api/v1/agents", "", nil); r.status != 401 {
		t.Errorf("HEAD without a token: %d, want 401", r.status)
	}
}
