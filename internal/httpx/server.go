package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ServerConfig bounds what a client can hold on to. Zero fields take the
// defaults in their comments.
type ServerConfig struct {
	ReadHeaderTimeout time.Duration // default 5s
	ReadTimeout       time.Duration // default 30s
	// WriteTimeout defaults to 0 (none): streaming proxies cannot have one,
	// so handlers set their own deadlines instead.
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration // default 120s
	ShutdownTimeout time.Duration // default 10s: bound on draining in-flight requests
	MaxHeaderBytes  int           // default 64 KiB
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 5 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.WriteTimeout < 0 {
		c.WriteTimeout = 0
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	return c
}

// Serve serves h on ln until ctx is cancelled, then shuts down gracefully:
// it stops accepting, lets in-flight requests finish for up to
// cfg.ShutdownTimeout, then closes what is left. It returns nil on a clean
// shutdown and an error when serving fails or requests had to be cut off.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg ServerConfig, logger *slog.Logger) error {
	cfg = cfg.withDefaults()
	addr := ln.Addr().String()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Requests get a context with ctx's values but not its cancellation:
		// cancelling ctx starts a drain, it must not abort in-flight work.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("listening", slog.String("addr", addr))

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", addr, err)
	case <-ctx.Done():
	}

	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(drainCtx)
	if err != nil {
		closeErr := srv.Close()
		err = fmt.Errorf("shut down %s: in-flight requests cut off after %s: %w", addr, cfg.ShutdownTimeout, errors.Join(err, closeErr))
	}
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve on %s: %w", addr, serveErr))
	}
	logger.Info("stopped", slog.String("addr", addr))
	return err
}

// ListenAndServe listens on the TCP address addr and calls Serve.
func ListenAndServe(ctx context.Context, addr string, h http.Handler, cfg ServerConfig, logger *slog.Logger) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return Serve(ctx, ln, h, cfg, logger)
}
