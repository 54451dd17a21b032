package policy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// validAnswer is a well-formed decision for gatewayInput.
const validAnswer = `{"result": {
	"allow": true,
	"deny": {"layer": "", "slug": "", "reason": ""},
	"rbac": {"allowed": true, "required_permission": "agent.view", "allowed_roles": ["admin", "viewer"]},
	"governor": {"required": false, "approved": false},
	"trial": {"mode": false, "expired": false, "counts_as_task": false, "tasks_per_day": 10},
	"target": "production",
	"budget": {"cost_micros": 1000, "agent_daily_micros": 1000000, "platform_monthly_micros": 100000000,
	           "alert_thresholds": [{"level": "critical", "percent": 100}]}
}}`

// answering serves body with status on every request, recording the last request body.
func answering(t *testing.T, status int, body string) (*httptest.Server, *[]byte) {
	t.Helper()
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestDecideSendsTheInputDocument(t *testing.T) {
	srv, sent := answering(t, http.StatusOK, validAnswer)
	client := newTestClient(t, srv.URL, 0)
	in := gatewayInput()
	in.User.Roles = nil

	d, err := client.Decide(context.Background(), in)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	if !d.Allow || d.Budget.AlertThresholds[0] != (Threshold{Level: "critical", Percent: 100}) {
		t.Errorf("Decide = %+v, want the decoded answer", d)
	}

	var doc struct {
		Input map[string]any `json:"input"`
	}
	if err := json.Unmarshal(*sent, &doc); err != nil {
		t.Fatalf("request body %s: %v", *sent, err)
	}
	for _, member := range []string{"method", "permission", "resource", "action", "user", "trial", "sandbox_configured", "limits"} {
		if _, ok := doc.Input[member]; !ok {
			t.Errorf("input lacks %q: %s", member, *sent)
		}
	}
	if roles := doc.Input["user"].(map[string]any)["roles"]; roles == nil {
		t.Errorf("roles sent as null, want []: %s", *sent)
	}
}

func TestDecideFailsClosed(t *testing.T) {
	answer := func(mutate func(m map[string]any)) string {
		var doc map[string]map[string]any
		if err := json.Unmarshal([]byte(validAnswer), &doc); err != nil {
			t.Fatal(err)
		}
		mutate(doc["result"])
		b, _ := json.Marshal(doc)
		return string(b)
	}
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"undefined decision", http.StatusOK, `{}`},
		{"garbage", http.StatusOK, `<html>not OPA</html>`},
		{"truncated", http.StatusOK, validAnswer[:40]},
		{"server error", http.StatusInternalServerError, `{"code": "internal_error"}`},
		{"bad request", http.StatusBadRequest, validAnswer},
		{"result not an object", http.StatusOK, `{"result": true}`},
		{"missing member", http.StatusOK, answer(func(m map[string]any) { delete(m, "budget") })},
		{"allow without deny member", http.StatusOK, answer(func(m map[string]any) { delete(m, "deny") })},
		{"allow contradicting deny", http.StatusOK, answer(func(m map[string]any) {
			m["deny"] = map[string]any{"layer": "rbac", "slug": "permission-denied", "reason": "no"}
		})},
		{"unknown deny layer", http.StatusOK, answer(func(m map[string]any) {
			m["allow"] = false
			m["deny"] = map[string]any{"layer": "budget", "slug": "", "reason": "no"}
		})},
		{"unknown target", http.StatusOK, answer(func(m map[string]any) { m["target"] = "staging" })},
		{"answer for another permission", http.StatusOK, answer(func(m map[string]any) {
			m["rbac"].(map[string]any)["required_permission"] = "agent.create"
		})},
		{"no alert thresholds", http.StatusOK, answer(func(m map[string]any) {
			m["budget"].(map[string]any)["alert_thresholds"] = []any{}
		})},
		{"wrong member type", http.StatusOK, answer(func(m map[string]any) { m["allow"] = "yes" })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := answering(t, tc.status, tc.body)
			client := newTestClient(t, srv.URL, 0)
			d, err := client.Decide(context.Background(), gatewayInput())
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("Decide = %+v, %v; want ErrUnavailable", d, err)
			}
		})
	}
}

func TestDecideTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // Answers only after the client has given up.
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	client := newTestClient(t, srv.URL, 20*time.Millisecond)
	_, err := client.Decide(context.Background(), gatewayInput())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Decide against a stalled OPA: %v, want ErrUnavailable", err)
	}
	var timeout interface{ Timeout() bool }
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Errorf("Decide against a stalled OPA: %v, want a timeout", err)
	}
}

func TestDecideHonoursCallerContext(t *testing.T) {
	srv, _ := answering(t, http.StatusOK, validAnswer)
	client := newTestClient(t, srv.URL, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := client.Decide(ctx, gatewayInput()); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Decide with a cancelled context: %v, want ErrUnavailable wrapping context.Canceled", err)
	}
}

func TestHealthy(t *testing.T) {
	tests := []struct {
		status int
		want   error
	}{
		{http.StatusOK, nil},
		{http.StatusInternalServerError, ErrUnavailable},
		{http.StatusNotFound, ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			var path string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				path = r.Method + " " + r.URL.Path
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			err := newTestClient(t, srv.URL+"/", 0).Healthy(context.Background())
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Healthy = %v, want %v", err, tc.want)
			}
			if path != "GET /health" {
				t.Errorf("Healthy asked %q, want GET /health", path)
			}
		})
	}
}

func TestNewClientRejectsBadURLs(t *testing.T) {
	for _, raw := range []string{"", "opa:8181", "ftp://opa:8181", "http://", "http://opa:8181/%zz"} {
		if _, err := NewClient(raw, 0); err == nil || !strings.Contains(err.Error(), "OPA URL") {
			t.Errorf("NewClient(%q) = %v, want an OPA URL error", raw, err)
		}
	}
}

func TestAlertLevelIgnoresThresholdOrder(t *testing.T) {
	shuffled := []Threshold{{"warning", 80}, {"critical", 100}, {"high", 95}}
	for _, tc := range alertTable {
		if got := AlertLevel(tc.percent, shuffled); got != tc.level {
			t.Errorf("AlertLevel(%v, shuffled) = %q, want %q", tc.percent, got, tc.level)
		}
	}
	if got := AlertLevel(500, nil); got != AlertNormal {
		t.Errorf("AlertLevel without thresholds = %q, want %q", got, AlertNormal)
	}
}
