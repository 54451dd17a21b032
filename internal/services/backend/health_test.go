package backend_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/pgtest"
	"github.com/waooaw/waooaw/internal/services/backend"
)

// TestHealthFollowsTheDatabase runs the backend as `waooaw serve backend` does, stops its
// PostgreSQL under it and starts it again: /health turns 503 and recovers without a restart.
func TestHealthFollowsTheDatabase(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	cfg := testConfig(t)
	cfg.DatabaseURL = cluster.URL("waooaw")
	cfg.DBWait = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- backend.Run(ctx, cfg, discardLogger(), ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	url := "http://" + ln.Addr().String() + "/health"

	waitHealth(t, url, 200, "connected")
	if err := cluster.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, url, 503, "disconnected")
	api := &stack{t: t, url: "http://" + ln.Addr().String()}
	r := api.do("GET", "/api/v1/agents", admin(t), nil)
	api.expect(r, 503, "service-unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if err := cluster.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, url, 200, "connected")
	api.expect(api.do("GET", "/api/v1/agents", admin(t), nil), 200, "")
}

// waitHealth polls until /health answers status with the given database state. The bound is
// generous and only stops a broken test from hanging; it asserts nothing about speed.
func waitHealth(t *testing.T, url string, status int, database string) {
	t.Helper()
	var last string
	for range 300 {
		res, err := http.Get(url)
		if err == nil {
			var h map[string]any
			json.NewDecoder(res.Body).Decode(&h)
			res.Body.Close()
			if res.StatusCode == status && h["database"] == database {
				if status == 503 && h["status"] != "unhealthy" {
					t.Errorf("503 body = %v", h)
				}
				return
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("/health never became %d %s (last: %s)", status, database, last)
}
