package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/policy"
	"github.com/waooaw/waooaw/internal/services/apidoc"
	"github.com/waooaw/waooaw/internal/services/gateway/ledger"
)

// Server is the Plant Gateway's handler and what it depends on.
type Server struct {
	cfg          Config
	logger       *slog.Logger
	httpMetrics  *httpx.Metrics
	metrics      *gatewayMetrics
	policy       *policy.Client
	decider      *policy.Cache
	ledger       *ledger.Ledger
	redis        *redis.Client
	auditPool    *pgxpool.Pool
	auditLog     *auditLog
	production   *httpx.Proxy
	sandbox      *httpx.Proxy // nil without PLANT_SANDBOX_URL
	healthClient *http.Client
	handler      http.Handler
}

// New builds the gateway from its configuration. It connects to nothing yet: Redis, OPA, the
// backend and the audit database are reached lazily, so the gateway starts (and reports what
// is missing on /health) even while its dependencies are still starting. Close releases what
// New opened; Run does both.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, logger: logger, httpMetrics: httpx.NewMetrics("gateway")}
	s.metrics = newGatewayMetrics(s.httpMetrics.Registry)

	var err error
	if s.policy, err = policy.NewClient(cfg.OPAURL, cfg.OPATimeout); err != nil {
		return nil, fmt.Errorf("OPA_URL: %w", err)
	}
	s.decider = newDecider(s.policy, cfg.DecisionCacheTTL, s.metrics)

	ropts, err := ledger.ClientOptions(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	s.redis = redis.NewClient(ropts)
	s.ledger = ledger.New(s.redis, cfg.RedisPrefix)

	if cfg.DatabaseURL != "" {
		pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("DATABASE_URL cannot be parsed as a PostgreSQL URL")
		}
		pcfg.MaxConns, pcfg.MinConns = 2, 0
		pcfg.ConnConfig.ConnectTimeout = 2 * time.Second
		if s.auditPool, err = pgxpool.NewWithConfig(context.Background(), pcfg); err != nil {
			s.Close()
			return nil, fmt.Errorf("audit database pool: %w", err)
		}
	} else {
		logger.Warn("DATABASE_URL is not set: the audit log is off")
	}
	s.auditLog = newAuditLog(s.auditPool, logger, s.metrics)

	if s.production, err = s.newProxy(cfg.BackendURL); err != nil {
		s.Close()
		return nil, fmt.Errorf("PLANT_BACKEND_URL: %w", err)
	}
	if cfg.SandboxURL != nil {
		if s.sandbox, err = s.newProxy(cfg.SandboxURL); err != nil {
			s.Close()
			return nil, fmt.Errorf("PLANT_SANDBOX_URL: %w", err)
		}
	}
	s.healthClient = &http.Client{Transport: httpx.NewTransport(4), Timeout: healthCheckTimeout}

	if s.handler, err = s.routes(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) newProxy(upstream *url.URL) (*httpx.Proxy, error) {
	p, err := httpx.NewProxy(httpx.ProxyConfig{
		Upstream:              upstream,
		Transport:             httpx.NewTransport(256),
		ResponseHeaderTimeout: s.cfg.UpstreamTimeout,
		Rewrite:               rewriteUpstream,
		ModifyResponse:        modifyResponse,
		Logger:                s.logger,
	})
	if err != nil {
		return nil, err
	}
	p.ErrorHandler = upstreamFailed(p.ErrorHandler)
	return p, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Close releases the Redis client and the audit pool.
func (s *Server) Close() {
	if s.redis != nil {
		s.redis.Close()
	}
	if s.auditPool != nil {
		s.auditPool.Close()
	}
}

// routes is the gateway's whole HTTP surface: its own public endpoints, and the allow-list of
// API operations from the API document. Unknown /api paths are answered here, never proxied.
func (s *Server) routes() (http.Handler, error) {
	ops, err := apidoc.Routes()
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.NotFound(httpx.NotFoundHandler().ServeHTTP)
	r.MethodNotAllowed(httpx.MethodNotAllowedHandler().ServeHTTP)
	r.Use(httpx.Recover(s.logger), httpx.Correlation, httpx.AccessLog(s.logger, s.httpMetrics), httpx.CORS(s.cfg.CORSOrigins))

	health := s.handleHealth()
	r.Method(http.MethodGet, "/health", health)
	r.Method(http.MethodGet, "/ready", health)
	r.Method(http.MethodGet, "/healthz", httpx.Healthz())
	r.Method(http.MethodGet, "/metrics", s.httpMetrics.Handler())
	r.Method(http.MethodGet, "/.well-known/jwks.json", s.handleJWKS())
	if s.cfg.Environment == "development" {
		docs, err := apidoc.DocsHandler()
		if err != nil {
			return nil, err
		}
		r.Method(http.MethodGet, "/openapi.json", apidoc.Handler())
		r.Method(http.MethodGet, "/docs", docs)
		r.Method(http.MethodGet, "/redoc", docs)
	}

	r.Route("/api", func(api chi.Router) {
		api.Use(s.audit, httpx.LimitBody(s.cfg.BodyLimit), s.authenticate)
		api.NotFound(httpx.NotFoundHandler().ServeHTTP)
		api.MethodNotAllowed(httpx.MethodNotAllowedHandler().ServeHTTP)
		for _, op := range ops {
			if op.Permission == "" || !strings.HasPrefix(op.Path, "/api/") {
				continue
			}
			path, h := strings.TrimPrefix(op.Path, "/api"), s.serveRoute(op)
			api.Method(op.Method, path, h)
			if op.Method == http.MethodGet {
				// RFC 9110 §9.3.2: HEAD is GET without the body. The policy reads it as a read.
				api.Method(http.MethodHead, path, h)
			}
		}
	})
	return unversionedAlias(r), nil
}

// unversionedAlias serves the seed report's /api/… paths as /api/v1/…. The path the client sent
// is kept in the request context, so problems and the audit row name it rather than the
// rewritten one.
func unversionedAlias(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/api/v1/") && p != "/api/v1" {
			r = httpx.WithClientPath(r)
			u := *r.URL // the rewrite must not show through the caller's request
			u.Path = "/api/v1/" + strings.TrimPrefix(p, "/api/")
			u.RawPath = ""
			r.URL = &u
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleJWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, err := s.cfg.Keys.JWKS()
		if err != nil {
			httpx.WriteError(w, r, s.logger, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(doc)
	})
}

// Run is `waooaw serve gateway`: it serves on ln (nil: cfg.Addr) until ctx ends, then drains
// requests and the audit queue.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, ln net.Listener) error {
	s, err := New(cfg, logger)
	if err != nil {
		return err
	}
	defer s.Close()
	auditCtx, stopAudit := context.WithCancel(context.Background())
	go s.auditLog.run(auditCtx)
	defer func() {
		stopAudit()
		<-s.auditLog.done
	}()
	scfg := httpx.ServerConfig{WrapHeaderRefusal: s.auditHeaderRefusal}
	if ln == nil {
		return httpx.ListenAndServe(ctx, cfg.Addr, s, scfg, logger)
	}
	return httpx.Serve(ctx, ln, s, scfg, logger)
}
