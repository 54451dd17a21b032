package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testToken is the management token of the servers the tests start.
const testToken = "test-management-token"

// startServer runs the embedded OPA server on a free loopback port, with testToken as its
// management token, until the test ends or stop is called; stop returns what Serve returned.
func startServer(t testing.TB) (srv *Server, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Listen(ctx, ServerConfig{Addr: "127.0.0.1:0", ManagementToken: testToken})
	if err != nil {
		cancel()
		t.Fatalf("Listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() { _ = stop() })
	return srv, stop
}

func newTestClient(t testing.TB, baseURL string, timeout time.Duration) *Client {
	t.Helper()
	c, err := NewClient(baseURL, timeout)
	if err != nil {
		t.Fatalf("NewClient(%q): %v", baseURL, err)
	}
	return c
}

// gatewayInput is an input as the gateway builds it: a viewer reading agents.
func gatewayInput() Input {
	return Input{
		Method:     "GET",
		Permission: "agent.view",
		Resource:   "agent",
		Action:     "view",
		User:       User{ID: "u1", Roles: []string{"viewer"}},
		Limits: Limits{
			CostPerRequestMicros:  1000,
			AgentDailyMicros:      1_000_000,
			PlatformMonthlyMicros: 100_000_000,
			TrialTasksPerDay:      10,
		},
	}
}

var wantBudget = Budget{
	CostMicros:            1000,
	AgentDailyMicros:      1_000_000,
	PlatformMonthlyMicros: 100_000_000,
	AlertThresholds: []Threshold{
		{Level: "critical", Percent: 100},
		{Level: "high", Percent: 95},
		{Level: "warning", Percent: 80},
	},
}

func TestEmbeddedServerDecides(t *testing.T) {
	srv, _ := startServer(t)
	client := newTestClient(t, srv.URL(), 0)
	ctx := context.Background()

	if err := client.Healthy(ctx); err != nil {
		t.Fatalf("Healthy: %v", err)
	}

	trialEnd := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	tests := []struct {
		name string
		in   func(*Input)
		want Decision
	}{
		{
			name: "allowed trial task goes to the sandbox",
			in: func(in *Input) {
				in.Method, in.Permission = "POST", "trial.create"
				in.User.Roles = []string{"customer_user"}
				in.Trial = Trial{Mode: true, ExpiresAt: trialEnd}
				in.SandboxConfigured = true
			},
			want: Decision{
				Allow: true,
				RBAC: RBAC{Allowed: true, RequiredPermission: "trial.create",
					AllowedRoles: []string{"admin", "customer_admin", "customer_user", "subscription_manager"}},
				Trial:  TrialDecision{Mode: true, CountsAsTask: true, TasksPerDay: 10},
				Target: TargetSandbox,
				Budget: wantBudget,
			},
		},
		{
			name: "denied by RBAC",
			in: func(in *Input) {
				in.Method, in.Permission = "DELETE", "agent.delete"
				in.User.Roles = []string{"agent_orchestrator"}
			},
			want: Decision{
				Deny: Deny{Layer: LayerRBAC, Slug: "permission-denied",
					Reason: "Permission agent.delete requires one of the roles: admin"},
				RBAC:     RBAC{RequiredPermission: "agent.delete", AllowedRoles: []string{"admin"}},
				Governor: Governor{Required: true},
				Trial:    TrialDecision{TasksPerDay: 10},
				Target:   TargetProduction,
				Budget:   wantBudget,
			},
		},
		{
			name: "orchestrator is sent to the Governor",
			in: func(in *Input) {
				in.Method, in.Permission = "POST", "agent.create"
				in.User.Roles = []string{"agent_orchestrator"}
			},
			want: Decision{
				Deny: Deny{Layer: LayerGovernor,
					Reason: "Permission agent.create requires approval by a Governor (role admin with a governor_agent_id)"},
				RBAC:     RBAC{Allowed: true, RequiredPermission: "agent.create", AllowedRoles: []string{"admin", "agent_orchestrator"}},
				Governor: Governor{Required: true},
				Trial:    TrialDecision{TasksPerDay: 10},
				Target:   TargetProduction,
				Budget:   wantBudget,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := gatewayInput()
			tc.in(&in)
			got, err := client.Decide(ctx, in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decide:\n got  %+v\n want %+v", got, tc.want)
			}
		})
	}
}

func TestEmbeddedServerServesNoTests(t *testing.T) {
	srv, _ := startServer(t)
	req, err := http.NewRequest(http.MethodGet, srv.URL()+"/v1/data/waooaw", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Result map[string]map[string]any `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatalf("decode GET /v1/data/waooaw: %v", err)
	}
	if len(answer.Result) != 1 || answer.Result["gateway"] == nil {
		t.Fatalf("data.waooaw = %v, want only the gateway tree", answer.Result)
	}
	for name := range answer.Result["gateway"] {
		if strings.HasSuffix(name, "_test") {
			t.Errorf("served data.waooaw.gateway holds test package %s", name)
		}
	}
	if _, ok := answer.Result["gateway"]["rbac"]; !ok {
		t.Errorf("served data.waooaw.gateway has no rbac package: %v", answer.Result["gateway"])
	}
}

func TestClientAgainstStoppedServer(t *testing.T) {
	srv, stop := startServer(t)
	client := newTestClient(t, srv.URL(), 0)
	if err := stop(); err != nil {
		t.Fatalf("Serve after cancel: %v, want nil", err)
	}

	if _, err := client.Decide(context.Background(), gatewayInput()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Decide against a stopped server: %v, want ErrUnavailable", err)
	}
	if err := client.Healthy(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Healthy against a stopped server: %v, want ErrUnavailable", err)
	}
}

func TestServeFailsWhenAddressTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = Serve(ctx, ServerConfig{Addr: taken.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("Serve on a taken address: %v, want an error naming %s", err, taken.Addr())
	}
}

func TestServerLogsOnlyWarningsOfOPA(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Listen(ctx, ServerConfig{Addr: "127.0.0.1:0", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	client := newTestClient(t, srv.URL(), 0)
	if _, err := client.Decide(ctx, gatewayInput()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	ours := map[string]bool{"policy server listening": true, "policy server stopped": true}
	var seen []string
	for line := range strings.Lines(logs.String()) {
		var rec struct{ Level, Msg, Addr string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		seen = append(seen, rec.Msg)
		if !ours[rec.Msg] && rec.Level != "WARN" && rec.Level != "ERROR" {
			t.Errorf("OPA logged at %s: %s", rec.Level, line)
		}
		if ours[rec.Msg] && rec.Addr != srv.Addr() {
			t.Errorf("%q logged addr %q, want %q", rec.Msg, rec.Addr, srv.Addr())
		}
	}
	if !slices.Contains(seen, "policy server listening") || !slices.Contains(seen, "policy server stopped") {
		t.Errorf("logged %q, want the server's start and stop", seen)
	}
}

// BenchmarkDecide measures one gateway → OPA round trip: encode, HTTP on a pooled loopback
// connection, policy evaluation in OPA, decode and shape check.
func BenchmarkDecide(b *testing.B) {
	srv, _ := startServer(b)
	client := newTestClient(b, srv.URL(), 0)
	ctx := context.Background()
	in := gatewayInput()
	in.Method, in.Permission = "POST", "trial.create"
	in.User.Roles = []string{"customer_user"}
	in.Trial = Trial{Mode: true, ExpiresAt: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.Decide(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecideParallel is the same round trip under concurrent gateway requests.
func BenchmarkDecideParallel(b *testing.B) {
	srv, _ := startServer(b)
	client := newTestClient(b, srv.URL(), 0)
	in := gatewayInput()

	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.Decide(context.Background(), in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
