package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/policy"
	"github.com/waooaw/waooaw/internal/services/apidoc"
)

// Server is the Plant Backend's HTTP handler and what it depends on.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	metrics *httpx.Metrics
	store   *store
	docs    http.Handler
	decider *policy.Cache
	handler http.Handler
}

// NewServer builds the backend's handler on an open pool. The caller owns the pool.
func NewServer(cfg Config, logger *slog.Logger, pool *pgxpool.Pool) (*Server, error) {
	docs, err := apidoc.DocsHandler()
	if err != nil {
		return nil, err
	}
	// The backend enforces the gateway's policies itself, evaluated in process from the same
	// modules, so its own port is no way around them.
	policies, err := policy.NewEvaluator(context.Background())
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, logger: logger, metrics: httpx.NewMetrics("backend"), store: &store{pool: pool}, docs: docs,
		decider: policy.NewCache(policies, policy.DefaultCacheTTL, nil),
	}
	s.metrics.Registry.MustRegister(newPoolCollector(pool))
	if s.handler, err = s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		body := map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339)}
		v, err := s.store.schemaVersion(ctx)
		if err != nil {
			s.logger.WarnContext(r.Context(), "health: database unreachable", "error", err)
			body["status"], body["database"] = "unhealthy", "disconnected"
			httpx.WriteJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		body["status"], body["database"], body["migrations"] = "healthy", "connected", v
		httpx.WriteJSON(w, http.StatusOK, body)
	})
}

// Run is `waooaw serve backend`: it waits for the database, migrates and seeds it, and serves on
// ln until ctx ends. A nil ln listens on cfg.Addr.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, ln net.Listener) error {
	pool, err := openPool(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	v, err := Migrate(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	logger.Info("database migrated", "version", v)
	srv, err := NewServer(cfg, logger, pool)
	if err != nil {
		return err
	}
	if ln == nil {
		return httpx.ListenAndServe(ctx, cfg.Addr, srv, httpx.ServerConfig{}, logger)
	}
	return httpx.Serve(ctx, ln, srv, httpx.ServerConfig{}, logger)
}

// openPool connects to PostgreSQL, retrying until cfg.DBWait has passed, so the backend can start
// alongside its database.
func openPool(ctx context.Context, cfg Config, logger *slog.Logger) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, errors.New("DATABASE_URL cannot be parsed as a PostgreSQL connection URL")
	}
	pcfg.MaxConns = 20
	pcfg.MinConns = 1
	pcfg.MaxConnIdleTime = 5 * time.Minute
	pcfg.HealthCheckPeriod = 5 * time.Second
	pcfg.ConnConfig.ConnectTimeout = 2 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("configure the database pool: %w", err)
	}
	deadline := time.Now().Add(cfg.DBWait)
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = pool.Ping(pctx)
		cancel()
		if err == nil {
			return pool, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			pool.Close()
			return nil, fmt.Errorf("database at %s:%d not reachable after %s: %w (check DATABASE_URL and that PostgreSQL is running)",
				pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, cfg.DBWait, err)
		}
		logger.Info("waiting for the database", "attempt", attempt)
		select {
		case <-ctx.Done():
		case <-time.After(min(time.Duration(attempt)*200*time.Millisecond, 2*time.Second)):
		}
	}
}
