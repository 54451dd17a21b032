package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/waooaw/waooaw/internal/httpx"
)

// healthCheckTimeout bounds each dependency probe of /health.
const healthCheckTimeout = time.Second

// handleHealth reports the gateway's readiness and that of its dependencies, probed in
// parallel. The backend and OPA are required (without them nothing can be served); Redis is
// required only when BUDGET_FAIL_MODE is closed; the audit database never is.
func (s *Server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthCheckTimeout)
		defer cancel()
		var backend, opa, redis, database string
		var wg sync.WaitGroup
		probe := func(dst *string, up, down string, check func(context.Context) error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := check(ctx); err != nil {
					s.logger.WarnContext(r.Context(), "health: dependency down", "dependency", up, "error", err)
					*dst = down
					return
				}
				*dst = up
			}()
		}
		probe(&backend, "reachable", "unreachable", s.pingBackend)
		probe(&opa, "up", "down", s.policy.Healthy)
		probe(&redis, "up", "down", s.ledger.Ping)
		if s.auditPool != nil {
			probe(&database, "up", "down", s.auditPool.Ping)
		} else {
			database = "disabled"
		}
		wg.Wait()

		status, code := "healthy", http.StatusOK
		if redis != "up" || database == "down" {
			status = "degraded"
		}
		if backend != "reachable" || opa != "up" || (redis != "up" && s.cfg.BudgetFailClosed) {
			status, code = "unhealthy", http.StatusServiceUnavailable
		}
		httpx.WriteJSON(w, code, map[string]any{
			"status":    status,
			"service":   "plant-gateway",
			"version":   s.cfg.Version,
			"backend":   backend,
			"opa":       opa,
			"redis":     redis,
			"database":  database,
			"timestamp": time.Now().UTC().Format(time.RFC3339),
		})
	})
}

// pingBackend asks the backend's own readiness: "reachable" means the backend answers and
// says it is healthy, so a gateway in front of a backend without its database is not ready.
func (s *Server) pingBackend(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.BackendURL.JoinPath("/health").String(), nil)
	if err != nil {
		return err
	}
	httpx.SetOutboundHeaders(ctx, req.Header)
	res, err := s.healthClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return &statusError{res.StatusCode}
	}
	return nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "answered " + http.StatusText(e.code) }
