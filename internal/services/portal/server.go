package portal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/waooaw/waooaw/internal/httpx"
)

// gatewayCheckTimeout bounds /health's call to the gateway, so a hung gateway makes the portal
// unhealthy rather than its health check hang.
const gatewayCheckTimeout = 2 * time.Second

// NewServer returns the portal's whole HTTP surface (SPEC §5):
//
//	GET  /health   readiness: is the gateway reachable
//	GET  /healthz  liveness
//	GET  /metrics  Prometheus
//	GET  /api      what this portal is and where its gateway is
//	ANY  /api/*    proxied to {PLANT_GATEWAY_URL}/api/*, bodies up to 10 MiB
//
// behind Recover → Correlation → AccessLog → CORS. Preflights are answered by CORS and never
// reach the gateway.
func NewServer(cfg Config, logger *slog.Logger) (http.Handler, error) {
	if _, ok := defaultAddr(cfg.Name); !ok {
		return nil, fmt.Errorf("portal %q is not one of cp, pp", cfg.Name)
	}
	if cfg.GatewayURL == nil {
		return nil, errors.New("PLANT_GATEWAY_URL must be set to the Plant Gateway's URL")
	}
	if err := httpx.CheckPortalSecret(cfg.PortalSecret); err != nil {
		return nil, err
	}
	gatewayType, secret := cfg.GatewayType(), cfg.PortalSecret
	proxy, err := httpx.NewProxy(httpx.ProxyConfig{
		Upstream: cfg.GatewayURL,
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The client's own X-Gateway-Type and portal secret were stripped before this runs;
			// the secret is what makes the gateway believe the type.
			pr.Out.Header.Set("X-Gateway-Type", gatewayType)
			if secret != "" {
				pr.Out.Header.Set(httpx.HeaderPortalSecret, secret)
			}
		},
		ModifyResponse: dropCORSHeaders,
		Logger:         logger,
	})
	if err != nil {
		return nil, fmt.Errorf("PLANT_GATEWAY_URL: %w", err)
	}
	metrics := httpx.NewMetrics(cfg.Service())
	checker := &http.Client{
		Transport: httpx.NewTransport(2),
		Timeout:   gatewayCheckTimeout,
		// Any answer means the gateway is there; a redirect is an answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	r := chi.NewRouter()
	r.NotFound(httpx.NotFoundHandler().ServeHTTP)
	r.MethodNotAllowed(httpx.MethodNotAllowedHandler().ServeHTTP)
	r.Use(httpx.Recover(logger), httpx.Correlation, httpx.AccessLog(logger, metrics), httpx.CORS(cfg.CORSOrigins))

	r.Method(http.MethodGet, "/health", handleHealth(cfg, logger, checker))
	r.Method(http.MethodGet, "/healthz", httpx.Healthz())
	r.Method(http.MethodGet, "/metrics", metrics.Handler())
	r.Method(http.MethodGet, "/api", handleInfo(cfg))
	r.With(httpx.LimitBody(httpx.DefaultBodyLimit)).Handle("/api/*", proxy)
	return r, nil
}

// dropCORSHeaders removes the gateway's CORS headers from its answers: the portal is the origin
// the browser talks to and answers CORS itself, and a second Access-Control-Allow-Origin would
// make the browser refuse the response.
func dropCORSHeaders(res *http.Response) error {
	for name := range res.Header {
		if strings.HasPrefix(name, "Access-Control-") {
			delete(res.Header, name)
		}
	}
	return nil
}

// handleHealth reports the portal healthy when the gateway answers its liveness endpoint at all:
// even an error status shows the gateway is there, while a refused connection or no answer
// within 2s does not.
func handleHealth(cfg Config, logger *slog.Logger, checker *http.Client) http.Handler {
	healthz := cfg.GatewayURL.JoinPath("healthz").String()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := map[string]string{"status": "healthy", "service": cfg.Service(), "version": cfg.Version, "gateway": "reachable"}
		if err := probe(r.Context(), checker, healthz); err != nil {
			logger.WarnContext(r.Context(), "health: gateway unreachable", "error", err.Error())
			body["status"], body["gateway"] = "unhealthy", "unreachable"
			httpx.WriteJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, body)
	})
}

func probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build gateway health request: %w", err)
	}
	httpx.SetOutboundHeaders(ctx, req.Header)
	resp, err := client.Do(req)
	if err != nil {
		return err // *url.Error: names the URL, for the log
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return resp.Body.Close()
}

func handleInfo(cfg Config) http.Handler {
	body := map[string]string{"service": cfg.Service(), "version": cfg.Version, "gateway": cfg.GatewayURL.Redacted()}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, body)
	})
}

// Run is `waooaw serve cp|pp`: it serves the portal on ln until ctx ends, then drains. A nil ln
// listens on cfg.Addr.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, ln net.Listener) error {
	h, err := NewServer(cfg, logger)
	if err != nil {
		return err
	}
	if ln == nil {
		return httpx.ListenAndServe(ctx, cfg.Addr, h, httpx.ServerConfig{}, logger)
	}
	return httpx.Serve(ctx, ln, h, httpx.ServerConfig{}, logger)
}
