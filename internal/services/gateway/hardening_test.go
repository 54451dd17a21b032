package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/services/gateway"
	"github.com/waooaw/waooaw/internal/services/portal"
	"github.com/waooaw/waooaw/internal/token"
)

const testPortalSecret = "portal-secret-for-tests-0123456789"

func withPortalSecret(secret string) option {
	return func(_ *stack, c *gateway.Config) { c.PortalSecret = secret }
}

// auditCount is the number of audit rows of a correlation id.
func (s *stack) auditCount(id string) int {
	s.t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM gateway_audit_logs WHERE correlation_id = $1`, id).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// auditRowOf waits for the one audit row of a correlation id and returns its path and
// gateway_type; more than one row fails the test.
func (s *stack) auditRowOf(t *testing.T, id string) (path, gatewayType string) {
	t.Helper()
	eventually(t, "the audit row of "+id, func() bool { return s.auditCount(id) > 0 })
	if n := s.auditCount(id); n != 1 {
		t.Fatalf("%d audit rows for %s, want exactly 1", n, id)
	}
	if err := s.pool.QueryRow(context.Background(),
		`SELECT path, gateway_type FROM gateway_audit_logs WHERE correlation_id = $1`, id).Scan(&path, &gatewayType); err != nil {
		t.Fatal(err)
	}
	return path, gatewayType
}

// TestBadBytesAreAuditedAndRefused: NUL and invalid UTF-8 in the path or the query give a
// 4xx problem, never a 500, and every such request leaves exactly one audit row with the bytes
// escaped, token or not.
func TestBadBytesAreAuditedAndRefused(t *testing.T) {
	s := newStack(t)
	defer func() {
		if t.Failed() {
			t.Log(s.gwLog.String())
		}
	}()
	viewer := role(t, token.RoleViewer)
	tests := []struct {
		id, path, token string
		status          int
		slug            string
		wantPath        string // as recorded
		field           string // the violation's field, for a 422
	}{
		{"bad-nul-path", "/api/v1/agents/%00", viewer, 422, "validation-error", "/api/v1/agents/%00", "id"},
		{"bad-ff-path", "/api/%ff", viewer, 404, "not-found", "/api/%FF", ""},
		{"bad-ff-path-anon", "/api/%ff", "", 401, "unauthorized", "/api/%FF", ""},
		{"bad-nul-path-anon", "/api/v1/agents/%00", "", 401, "unauthorized", "/api/v1/agents/%00", ""},
		{"bad-percent", "/api/v1/agents/%2500", viewer, 422, "validation-error", "/api/v1/agents/%2500", "id"},
		{"bad-q-nul", "/api/v1/agents?q=%00", viewer, 422, "validation-error", "/api/v1/agents", "q"},
		{"bad-q-ff", "/api/v1/agents?q=%ff", viewer, 422, "validation-error", "/api/v1/agents", "q"},
		{"bad-q-c3", "/api/agents?q=%c3", viewer, 422, "validation-error", "/api/agents", "q"},
		{"bad-industry", "/api/v1/agents?industry=%00", viewer, 422, "validation-error", "/api/v1/agents", "industry"},
		{"bad-trial-customer", "/api/v1/trials?customer_id=%00", role(t, token.RoleAdmin), 422, "validation-error", "/api/v1/trials", "customer_id"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			r := s.do(req{path: tt.path, token: tt.token, header: map[string]string{"X-Correlation-ID": tt.id}})
			p := problem(t, r, tt.status, tt.slug)
			if tt.field != "" {
				v, _ := p["violations"].([]any)
				if len(v) != 1 || v[0].(map[string]any)["field"] != tt.field {
					t.Errorf("violations %v, want one naming %s", p["violations"], tt.field)
				}
			}
			if path, _ := s.auditRowOf(t, tt.id); path != tt.wantPath {
				t.Errorf("recorded path %q, want %q", path, tt.wantPath)
			}
		})
	}
	if strings.Contains(s.gwLog.String(), "audit row dropped") || s.metric(`waooaw_gateway_audit_rows_total{result="dropped"}`) != 0 {
		t.Error("audit rows were dropped")
	}
}

// TestGatewayTypeNeedsThePortalSecret: a client's own X-Gateway-Type is recorded as direct;
// only a request with the portals' secret is the portal's, and the secret goes no further.
func TestGatewayTypeNeedsThePortalSecret(t *testing.T) {
	s := newStack(t, withEcho(), withPortalSecret(testPortalSecret))
	tok := role(t, token.RoleViewer)
	tests := []struct {
		id         string
		header     map[string]string
		wantType   string
		wantUpType string // X-Gateway-Type the backend receives
	}{
		{"type-forged", map[string]string{"X-Gateway-Type": "PP"}, "direct", "direct"},
		{"type-wrong-secret", map[string]string{"X-Gateway-Type": "PP", httpx.HeaderPortalSecret: "guess-guess-guess-guess"}, "direct", "direct"},
		{"type-secret-prefix", map[string]string{"X-Gateway-Type": "PP", httpx.HeaderPortalSecret: testPortalSecret[:20]}, "direct", "direct"},
		{"type-portal", map[string]string{"X-Gateway-Type": "PP", httpx.HeaderPortalSecret: testPortalSecret}, "PP", "PP"},
		{"type-portal-no-type", map[string]string{httpx.HeaderPortalSecret: testPortalSecret}, "direct", "direct"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			tt.header["X-Correlation-ID"] = tt.id
			ok(t, s.do(req{path: "/api/v1/agents", token: tok, header: tt.header}), 200)
			up := s.echo.lastRequest().Header
			if up.Get(httpx.HeaderPortalSecret) != "" {
				t.Error("the portal secret reached the backend")
			}
			if got := up.Get("X-Gateway-Type"); got != tt.wantUpType {
				t.Errorf("backend got X-Gateway-Type %q, want %q", got, tt.wantUpType)
			}
			if _, typ := s.auditRowOf(t, tt.id); typ != tt.wantType {
				t.Errorf("recorded gateway_type %q, want %q", typ, tt.wantType)
			}
		})
	}

	t.Run("through a real portal", func(t *testing.T) {
		for _, tt := range []struct{ name, secret, want string }{
			{"cp", testPortalSecret, "CP"},
			{"pp", testPortalSecret, "PP"},
			{"cp", "", "direct"},                          // a portal without the secret is any client
			{"pp", "another-portal-secret-000", "direct"}, // or with another stack's
		} {
			cfg, err := portal.ConfigFromEnv(tt.name, func(k string) string {
				switch k {
				case "PLANT_GATEWAY_URL":
					return s.url
				case "PORTAL_SECRET":
					return tt.secret
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			h, err := portal.NewServer(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			front := httptest.NewServer(h)
			id := "through-" + tt.name + "-" + tt.want
			rq, _ := http.NewRequest(http.MethodGet, front.URL+"/api/v1/agents", nil)
			rq.Header.Set("Authorization", "Bearer "+tok)
			rq.Header.Set("X-Correlation-ID", id)
			rq.Header.Set("X-Gateway-Type", "PP") // the client's own word changes nothing
			res, err := http.DefaultClient.Do(rq)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			front.Close()
			if res.StatusCode != 200 {
				t.Fatalf("%s: status %d", id, res.StatusCode)
			}
			if _, typ := s.auditRowOf(t, id); typ != tt.want {
				t.Errorf("%s: recorded gateway_type %q, want %q", id, typ, tt.want)
			}
		}
	})

	t.Run("no secret configured", func(t *testing.T) {
		s := newStack(t, withEcho())
		ok(t, s.do(req{path: "/api/v1/agents", token: tok, header: map[string]string{
			"X-Correlation-ID": "type-unconfigured", "X-Gateway-Type": "CP", httpx.HeaderPortalSecret: "",
		}}), 200)
		if _, typ := s.auditRowOf(t, "type-unconfigured"); typ != "direct" {
			t.Errorf("recorded gateway_type %q, want direct", typ)
		}
	})
}

// TestOversizedHeadersAreProblems: headers over the limit get a 431 problem from the gateway,
// a long token under it a 401 problem; nothing reaches the backend.
func TestOversizedHeadersAreProblems(t *testing.T) {
	s := newStack(t, withEcho())
	roles := make([]string, 10_000)
	for i := range roles {
		roles[i] = token.RoleViewer
	}
	manyRoles := mint(t, roles, nil)
	tests := []struct {
		name   string
		header map[string]string
		status int
		slug   string
	}{
		{"70 KB header", map[string]string{"X-Big": strings.Repeat("a", 70<<10)}, 431, httpx.SlugHeadersTooLarge},
		{"100 KB token", map[string]string{"Authorization": "Bearer " + strings.Repeat("a", 100<<10)}, 431, httpx.SlugHeadersTooLarge},
		{"10,000 roles", map[string]string{"Authorization": "Bearer " + manyRoles}, 431, httpx.SlugHeadersTooLarge},
		{"50 KB token under the limit", map[string]string{"Authorization": "Bearer " + strings.Repeat("a", 50<<10)}, 401, httpx.SlugInvalidToken},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("oversized-%d", i)
			tt.header["X-Correlation-ID"] = id
			problem(t, s.do(req{path: "/api/agents", header: tt.header}), tt.status, tt.slug)
			// Refused before any route ran, it is still one audit row, with the path as sent.
			if path, _ := s.auditRowOf(t, id); path != "/api/agents" {
				t.Errorf("recorded path %q", path)
			}
			var status int
			var layer string
			if err := s.pool.QueryRow(context.Background(), `SELECT status_code, layer FROM gateway_audit_logs WHERE correlation_id = $1`, id).Scan(&status, &layer); err != nil {
				t.Fatal(err)
			}
			if wantLayer := map[int]string{431: "limits", 401: "auth"}[tt.status]; status != tt.status || layer != wantLayer {
				t.Errorf("audited as %d %s, want %d %s", status, layer, tt.status, wantLayer)
			}
		})
	}
	if n := s.echo.hits.Load(); n != 0 {
		t.Errorf("%d oversized requests reached the backend", n)
	}
	// Outside the API the refusal is a problem too, and no audit row.
	problem(t, s.do(req{path: "/health", header: map[string]string{"X-Big": strings.Repeat("a", 70<<10), "X-Correlation-ID": "oversized-health"}}), 431, httpx.SlugHeadersTooLarge)
	// Rows are written in order: once a later API request's row is in, an earlier one would be.
	problem(t, s.do(req{path: "/api/agents", header: map[string]string{"X-Correlation-ID": "oversized-after"}}), 401, "unauthorized")
	s.auditRowOf(t, "oversized-after")
	if n := s.auditCount("oversized-health"); n != 0 {
		t.Errorf("%d audit rows for a request outside the API", n)
	}
}

// TestProblemInstanceIsThePathSent: the alias /api/… answers with the path the client sent.
func TestProblemInstanceIsThePathSent(t *testing.T) {
	s := newStack(t, withEcho())
	for _, path := range []string{"/api/agents", "/api/v1/agents", "/api/customers/" + customerA} {
		p := problem(t, s.do(req{path: path, header: map[string]string{"X-Correlation-ID": "instance-" + strings.ReplaceAll(path, "/", "-")}}), 401, "unauthorized")
		if p["instance"] != path {
			t.Errorf("instance %v, want %s", p["instance"], path)
		}
	}
	// The audit records the path sent too, and the route it was served as.
	path, _ := s.auditRowOf(t, "instance--api-agents")
	if path != "/api/agents" {
		t.Errorf("recorded path %q, want /api/agents", path)
	}
	if p := problem(t, s.do(req{path: "/api/nope", token: role(t, token.RoleViewer)}), 404, "not-found"); p["instance"] != "/api/nope" {
		t.Errorf("404 instance %v, want /api/nope", p["instance"])
	}
}
