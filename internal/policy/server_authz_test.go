package policy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// opaCall is one request to OPA's REST API.
type opaCall struct {
	name, method, path, body string
}

// send makes call against base with the Authorization header auth (none when empty) and
// returns the status and body.
func send(t *testing.T, base string, call opaCall, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(call.method, base+call.path, strings.NewReader(call.body))
	if err != nil {
		t.Fatal(err)
	}
	if call.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", call.method, call.path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// rbacPolicy returns the id and source of the served RBAC module, read with the token.
func rbacPolicy(t *testing.T, base string) (id, raw string) {
	t.Helper()
	status, body := send(t, base, opaCall{method: http.MethodGet, path: "/v1/policies"}, "Bearer "+testToken)
	if status != http.StatusOK {
		t.Fatalf("GET /v1/policies with the token: %d %s", status, body)
	}
	var answer struct {
		Result []struct{ ID, Raw string } `json:"result"`
	}
	if err := json.Unmarshal([]byte(body), &answer); err != nil {
		t.Fatalf("decode GET /v1/policies: %v", err)
	}
	for _, p := range answer.Result {
		if strings.Contains(p.Raw, "package waooaw.gateway.rbac\n") {
			return p.ID, p.Raw
		}
	}
	t.Fatalf("GET /v1/policies lists no RBAC module: %s", body)
	return "", ""
}

// viewerCreatesCustomer is the attack's target: a viewer may not create customers.
func viewerCreatesCustomer() Input {
	in := gatewayInput()
	in.Method, in.Permission, in.Resource, in.Action = "POST", "customer.create", "customer", "create"
	return in
}

// weakenedRBAC is the attacker's rewrite of the RBAC module: viewers may create customers.
func weakenedRBAC(t *testing.T, raw string) string {
	t.Helper()
	const grant = `"customer.create": {"subscription_manager"},`
	if !strings.Contains(raw, grant) {
		t.Fatalf("the RBAC module no longer grants customer.create as %s; update the test", grant)
	}
	return strings.Replace(raw, grant, `"customer.create": {"subscription_manager", "viewer"},`, 1)
}

func TestServerRefusesManagementWithoutTheToken(t *testing.T) {
	srv, _ := startServer(t)
	base := srv.URL()
	client := newTestClient(t, base, 0)
	ctx := context.Background()
	if d, err := client.Decide(ctx, viewerCreatesCustomer()); err != nil || d.Allow {
		t.Fatalf("before: viewer customer.create: allow=%v err=%v, want a denial", d.Allow, err)
	}
	id, raw := rbacPolicy(t, base)
	weakened := weakenedRBAC(t, raw)

	calls := []opaCall{
		{"replace a policy", http.MethodPut, "/v1/policies/" + id, weakened},
		{"add a policy", http.MethodPut, "/v1/policies/evil.rego", "package waooaw.gateway.rbac\nallowed := true\n"},
		{"delete a policy", http.MethodDelete, "/v1/policies/" + id, ""},
		{"write data", http.MethodPut, "/v1/data/waooaw/gateway/rbac/grants", `{"customer.create": ["viewer"]}`},
		{"write other data", http.MethodPut, "/v1/data/evil", `{"x": 1}`},
		{"patch data", http.MethodPatch, "/v1/data", `[{"op": "add", "path": "/evil", "value": 1}]`},
		{"delete data", http.MethodDelete, "/v1/data/waooaw", ""},
		{"list policies", http.MethodGet, "/v1/policies", ""},
		{"read a policy", http.MethodGet, "/v1/policies/" + id, ""},
		{"read data", http.MethodGet, "/v1/data", ""},
		{"read the authz policy's data", http.MethodGet, "/v1/data/system/authz", ""},
		{"read the decision with GET", http.MethodGet, "/v1/data/waooaw/gateway/decision", ""},
		{"explain the decision", http.MethodPost, "/v1/data/waooaw/gateway/decision?explain=full", `{"input": {}}`},
		{"query another document", http.MethodPost, "/v1/data/waooaw/gateway/rbac", `{"input": {}}`},
		{"ad-hoc query", http.MethodPost, "/v1/query", `{"query": "data.system.authz"}`},
		{"ad-hoc query by GET", http.MethodGet, "/v1/query?q=data", ""},
		{"compile", http.MethodPost, "/v1/compile", `{"query": "data.waooaw.gateway.decision.allow == true"}`},
		{"default decision", http.MethodPost, "/", `{}`},
		{"config", http.MethodGet, "/v1/config", ""},
		{"status", http.MethodGet, "/v1/status", ""},
		{"metrics", http.MethodGet, "/metrics", ""},
	}
	for _, auth := range []struct{ name, header string }{
		{"anonymous", ""},
		{"wrong token", "Bearer not-the-token"},
		{"empty token", "Bearer "},
		{"token as basic credentials", "Basic " + testToken},
		{"token's prefix", "Bearer " + testToken[:len(testToken)-1]},
	} {
		for _, call := range calls {
			t.Run(auth.name+"/"+call.name, func(t *testing.T) {
				status, body := send(t, base, call, auth.header)
				if status != http.StatusUnauthorized {
					t.Errorf("%s %s: %d %s, want 401", call.method, call.path, status, body)
				}
			})
		}
	}

	if d, err := client.Decide(ctx, viewerCreatesCustomer()); err != nil || d.Allow {
		t.Errorf("after the refused writes: viewer customer.create: allow=%v err=%v, want a denial", d.Allow, err)
	}
	if _, now := rbacPolicy(t, base); now != raw {
		t.Errorf("the RBAC module changed:\n%s", now)
	}
}

func TestServerTakesManagementWithTheToken(t *testing.T) {
	srv, _ := startServer(t)
	base := srv.URL()
	client := newTestClient(t, base, 0)
	bearer := "Bearer " + testToken
	id, raw := rbacPolicy(t, base)

	for _, step := range []struct {
		call opaCall
		want int
	}{
		{opaCall{"write data", http.MethodPut, "/v1/data/extra", `{"x": 1}`}, http.StatusNoContent},
		{opaCall{"patch data", http.MethodPatch, "/v1/data/extra", `[{"op": "add", "path": "/y", "value": 2}]`}, http.StatusNoContent},
		{opaCall{"read data", http.MethodGet, "/v1/data/extra", ""}, http.StatusOK},
		{opaCall{"delete data", http.MethodDelete, "/v1/data/extra", ""}, http.StatusNoContent},
		{opaCall{"add a policy", http.MethodPut, "/v1/policies/extra.rego", "package extra\nx := 1\n"}, http.StatusOK},
		{opaCall{"delete the policy", http.MethodDelete, "/v1/policies/extra.rego", ""}, http.StatusOK},
		{opaCall{"ad-hoc query", http.MethodPost, "/v1/query", `{"query": "x := 1"}`}, http.StatusOK},
		// The write the anonymous caller was refused: with the token it takes effect, which is
		// what makes the "decision unchanged" check above meaningful.
		{opaCall{"replace the RBAC policy", http.MethodPut, "/v1/policies/" + id, weakenedRBAC(t, raw)}, http.StatusOK},
	} {
		if status, body := send(t, base, step.call, bearer); status != step.want {
			t.Fatalf("%s (%s %s) with the token: %d %s, want %d", step.call.name, step.call.method, step.call.path, status, body, step.want)
		}
	}
	d, err := client.Decide(context.Background(), viewerCreatesCustomer())
	if err != nil || !d.Allow {
		t.Errorf("after the token holder's rewrite: viewer customer.create: allow=%v err=%v, want allow", d.Allow, err)
	}
}

func TestServerAnswersHealthAndDecisionsAnonymously(t *testing.T) {
	srv, _ := startServer(t)
	client := newTestClient(t, srv.URL(), 0)
	if err := client.Healthy(context.Background()); err != nil {
		t.Errorf("Healthy without a token: %v", err)
	}
	if d, err := client.Decide(context.Background(), gatewayInput()); err != nil || !d.Allow {
		t.Errorf("Decide without a token: allow=%v err=%v, want the viewer's agent.view allowed", d.Allow, err)
	}
}

func TestServerWithoutATokenRefusesEveryManagementCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Listen(ctx, ServerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	for _, auth := range []string{"", "Bearer ", "Bearer x", "Bearer " + testToken} {
		status, body := send(t, srv.URL(), opaCall{method: http.MethodPut, path: "/v1/data/evil", body: `{"x": 1}`}, auth)
		if status != http.StatusUnauthorized {
			t.Errorf("PUT /v1/data/evil with Authorization %q on a server without a token: %d %s, want 401", auth, status, body)
		}
	}
	if _, err := newTestClient(t, srv.URL(), 0).Decide(context.Background(), gatewayInput()); err != nil {
		t.Errorf("Decide on a server without a token: %v", err)
	}
}

func TestServerChecksTheHostHeader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Listen(ctx, ServerConfig{Addr: "127.0.0.1:0", ManagementToken: testToken, Hosts: []string{"opa"}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	port := srv.Addr()[strings.LastIndex(srv.Addr(), ":")+1:]
	other := "1"
	if port == other {
		other = "2"
	}

	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + port, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LocalHost:" + port, http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"opa:" + port, http.StatusOK},
		// A DNS-rebinding page names its own domain.
		{"attacker.example:" + port, http.StatusMisdirectedRequest},
		{"localhost.attacker.example:" + port, http.StatusMisdirectedRequest},
		{"opa.attacker.example:" + port, http.StatusMisdirectedRequest},
		{"localhost:" + other, http.StatusMisdirectedRequest},
		{"localhost", http.StatusMisdirectedRequest},
		{"attacker.example", http.StatusMisdirectedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			for _, call := range []opaCall{
				{"health", http.MethodGet, "/health", ""},
				{"decision", http.MethodPost, "/v1/data/waooaw/gateway/decision", `{"input": {}}`},
			} {
				req, err := http.NewRequest(call.method, srv.URL()+call.path, strings.NewReader(call.body))
				if err != nil {
					t.Fatal(err)
				}
				req.Host = tt.host
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Errorf("%s %s with Host %q: %d %s, want %d", call.method, call.path, tt.host, resp.StatusCode, body, tt.want)
				}
			}
		})
	}
}

func TestAuthzModuleKeepsOnlyTheTokensHash(t *testing.T) {
	const token = "0123456789abcdef-secret"
	src := AuthzModule(token)
	if strings.Contains(src, token) {
		t.Error("the system.authz module holds the management token itself")
	}
	if !strings.Contains(src, `management_token_sha256 := "`) || strings.Contains(src, tokenHashPlaceholder) {
		t.Errorf("the token's hash was not written into the module:\n%s", src)
	}
	if empty := AuthzModule(""); !strings.Contains(empty, `management_token_sha256 := ""`) {
		t.Errorf("without a token the module should hold an empty hash:\n%s", empty)
	}
}
