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
	// MaxHeaderBytes (default 64 KiB) bounds the request line and headers: a request over it
	// gets a 431 request-header-fields-too-large problem from LimitHeaders.
	MaxHeaderBytes int
	// HardMaxHeaderBytes (default 1 MiB, never below MaxHeaderBytes) is what Go's server reads
	// at most. It is larger than MaxHeaderBytes so that LimitHeaders, not Go, sees an oversized
	// request and can answer it with a problem; beyond it Go's server answers by itself, before
	// any handler runs, with a plain-text 431 and closes the connection.
	HardMaxHeaderBytes int
	// WrapHeaderRefusal, when set, wraps the handler that answers a request over MaxHeaderBytes
	// (inside Correlation), so that a service can account for it too: the gateway audits it.
	WrapHeaderRefusal func(http.Handler) http.Handler
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
	if c.HardMaxHeaderBytes <= 0 {
		c.HardMaxHeaderBytes = 1 << 20
	}
	c.HardMaxHeaderBytes = max(c.HardMaxHeaderBytes, c.MaxHeaderBytes)
	return c
}

// Serve serves h on ln until ctx is cancelled, then shuts down gracefully:
// it stops accepting, lets in-flight requests finish for up to
// cfg.ShutdownTimeout, then closes what is left. It returns nil on a clean
// shutdown and an error when serving fails or requests had to be cut off.
//
// h runs behind LimitHeaders(cfg.MaxHeaderBytes), the outermost middleware of
// every service.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg ServerConfig, logger *slog.Logger) error {
	cfg = cfg.withDefaults()
	addr := ln.Addr().String()
	srv := &http.Server{
		Handler:           limitHeaders(cfg.MaxHeaderBytes, logger, cfg.WrapHeaderRefusal)(h),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.HardMaxHeaderBytes,
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

// LimitHeaders answers a request whose request line and headers, counted as
// sent, exceed max bytes with a 431 request-header-fields-too-large problem,
// and logs it at warn level. It is meant to be outermost: Correlation has not
// run yet, so the refusal gets its own correlation id here.
func LimitHeaders(max int, logger *slog.Logger) func(http.Handler) http.Handler {
	return limitHeaders(max, logger, nil)
}

// limitHeaders is LimitHeaders with the refusal wrapped by wrap (nil: as it is).
func limitHeaders(max int, logger *slog.Logger, wrap func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	var refusal http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.LogAttrs(r.Context(), slog.LevelWarn, "request headers too large",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("header_bytes", headerBytes(r)),
			slog.Int("limit_bytes", max),
			slog.String("correlation_id", CorrelationID(r.Context())),
			slog.String("remote", r.RemoteAddr),
		)
		// The connection is closed after the answer: what else the client
		// sends on it is of the same kind.
		w.Header().Set("Connection", "close")
		WriteProblem(w, r, NewProblem(SlugHeadersTooLarge,
			fmt.Sprintf("The request line and headers are larger than the limit of %d bytes.", max)).
			With("limit_bytes", max))
	})
	if wrap != nil {
		refusal = wrap(refusal)
	}
	refuse := Correlation(refusal)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if headerBytes(r) > max {
				refuse.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// headerBytes is the size of r's request line and header lines as they were
// sent ("Name: value\r\n"), which is what http.Server's MaxHeaderBytes counts
// too. Go's server takes Host out of the header map; it is counted back.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if _, ok := r.Header["Host"]; !ok && r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n + 2 // the empty line that ends the header
}
