package portal_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/services/portal"
	"github.com/waooaw/waooaw/internal/token"
)

const secret = "portal-secret-for-tests-0123456789"

func withSecret(s string) option { return func(c *portal.Config) { c.PortalSecret = s } }

// TestPortalProvesItselfWithTheSecret: the portal sends its secret with X-Gateway-Type, and a
// client's own secret header never gets through, whether the portal has a secret or not.
func TestPortalProvesItselfWithTheSecret(t *testing.T) {
	forged := http.Header{httpx.HeaderPortalSecret: {"forged-by-the-client-0000"}, "X-Gateway-Type": {"PP"}}
	for _, tt := range []struct {
		name, secret string
	}{{"with a secret", secret}, {"without a secret", ""}} {
		t.Run(tt.name, func(t *testing.T) {
			gw, seen := newGateway(t)
			p := newPortal(t, "cp", gw.URL, withSecret(tt.secret))
			send(t, http.MethodGet, p.URL+"/api/v1/agents", nil, forged)
			got := (<-seen).Header
			if vs := got.Values(httpx.HeaderPortalSecret); (tt.secret == "" && len(vs) != 0) || (tt.secret != "" && (len(vs) != 1 || vs[0] != tt.secret)) {
				t.Errorf("the gateway got %s %q, want the portal's own %q", httpx.HeaderPortalSecret, vs, tt.secret)
			}
			if vs := got.Values("X-Gateway-Type"); len(vs) != 1 || vs[0] != "CP" {
				t.Errorf("X-Gateway-Type %q, want [CP]", vs)
			}
		})
	}
}

func TestConfigPortalSecret(t *testing.T) {
	env := func(secret string) func(string) string {
		return func(k string) string {
			return map[string]string{"PLANT_GATEWAY_URL": "http://localhost:8090", "PORTAL_SECRET": secret}[k]
		}
	}
	cfg, err := portal.ConfigFromEnv("pp", env(secret))
	if err != nil || cfg.PortalSecret != secret {
		t.Fatalf("ConfigFromEnv = %q, %v", cfg.PortalSecret, err)
	}
	for _, bad := range []string{"too-short", "has spaces in the portal secret"} {
		_, err := portal.ConfigFromEnv("pp", env(bad))
		if err == nil || !strings.Contains(err.Error(), "PORTAL_SECRET") || strings.Contains(err.Error(), bad) {
			t.Errorf("PORTAL_SECRET=%q: err = %v, want one naming the variable and not the value", bad, err)
		}
	}
}

// TestOversizedHeadersAreProblems runs the portal as `waooaw serve cp` does: headers over the
// limit get a 431 problem from the portal itself, and the gateway sees nothing.
func TestOversizedHeadersAreProblems(t *testing.T) {
	gw, seen := newGateway(t)
	p := startPortal(t, gw.URL)
	key, err := token.GenerateSigningKey(token.ES256)
	if err != nil {
		t.Fatal(err)
	}
	roles := make([]string, 10_000)
	for i := range roles {
		roles[i] = token.RoleViewer
	}
	manyRoles, err := key.Sign(token.NewClaims("u", "u@example.com", roles, time.Minute, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]http.Header{
		"70 KB header": {"X-Big": {strings.Repeat("a", 70<<10)}},
		"100 KB token": {"Authorization": {"Bearer " + strings.Repeat("a", 100<<10)}},
		"10,000 roles": {"Authorization": {"Bearer " + manyRoles}},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := send(t, http.MethodGet, p+"/api/v1/agents", nil, h)
			if resp.StatusCode != 431 || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %q: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			m := jsonObject(t, body)
			if m["type"] != httpx.ProblemTypeBase+httpx.SlugHeadersTooLarge || m["instance"] != "/api/v1/agents" || m["correlation_id"] == nil {
				t.Errorf("problem %v", m)
			}
		})
	}
	noGatewayRequest(t, seen)
}

// startPortal serves a CP portal with portal.Run on a local port and returns its URL.
func startPortal(t *testing.T, gatewayURL string) string {
	t.Helper()
	cfg, err := portal.ConfigFromEnv("cp", func(k string) string {
		return map[string]string{"PLANT_GATEWAY_URL": gatewayURL}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	logger, err := httpx.NewLogger(t.Output(), "info", cfg.Service())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- portal.Run(ctx, cfg, logger, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("portal.Run: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}
