package httpx

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// DefaultBodyLimit is the request body limit of every service (SPEC §4.7).
const DefaultBodyLimit = 10 << 20

// routeUnmatched is the route label of a request no route pattern matched.
const routeUnmatched = "unmatched"

// AccessLog logs one JSON line per request (msg "request") with method, path,
// route, status, duration_ms, bytes, correlation_id and remote, at info level
// below 500 and error level from 500 on, and records it in m (which may be nil).
//
// The route is chi's route pattern, never the raw path, so that the metrics'
// cardinality stays bounded. It works both inside a chi router (r.Use) and
// wrapped around one. The path is logged without its query, which may carry
// secrets.
func AccessLog(logger *slog.Logger, m *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rctx := chi.RouteContext(r.Context())
			if rctx == nil {
				// Outside a router: hand the router a routing context to fill,
				// so the matched pattern is still readable here afterwards.
				rctx = chi.NewRouteContext()
				r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
			}
			if m != nil {
				m.inFlight.Inc()
				defer m.inFlight.Dec()
			}
			// The chi wrapper keeps http.Flusher and friends when w has them,
			// and its Unwrap lets http.ResponseController reach the rest.
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			completed := false
			defer func() {
				// Deferred so that a panicking request is still logged; the
				// panic goes on to Recover.
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK
					if !completed {
						status = http.StatusInternalServerError
					}
				}
				route := rctx.RoutePattern()
				if route == "" {
					route = routeUnmatched
				}
				elapsed := time.Since(start)
				if m != nil {
					m.observe(r.Method, route, status, elapsed)
				}
				level := slog.LevelInfo
				if status >= 500 {
					level = slog.LevelError
				}
				logger.LogAttrs(r.Context(), level, "request",
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.String("route", route),
					slog.Int("status", status),
					slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
					slog.Int("bytes", ww.BytesWritten()),
					slog.String("correlation_id", CorrelationID(r.Context())),
					slog.String("remote", r.RemoteAddr),
				)
			}()
			next.ServeHTTP(ww, r)
			completed = true
		})
	}
}

// Recover turns a panic into an error log line with the stack and a 500
// Internal() problem. http.ErrAbortHandler is re-panicked: it is the
// deliberate way to abort a response. When the response has already started,
// a problem can no longer be sent; the connection is aborted instead, so the
// client sees a broken response rather than one that looks complete.
//
// Recover is the outermost middleware, so the request context it sees has no
// correlation id yet; it reads the id Correlation echoed on the response.
func Recover(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				rec := recover()
				if rec == nil {
					return
				}
				if rec == http.ErrAbortHandler {
					panic(rec)
				}
				if CorrelationID(r.Context()) == "" {
					if id := ww.Header().Get(HeaderCorrelationID); id != "" {
						r = r.WithContext(WithCorrelationID(r.Context(), id))
					}
				}
				logger.LogAttrs(r.Context(), slog.LevelError, "panic",
					slog.String("panic", fmt.Sprint(rec)),
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.String("correlation_id", CorrelationID(r.Context())),
					slog.String("stack", string(debug.Stack())),
				)
				if ww.Status() != 0 {
					panic(http.ErrAbortHandler)
				}
				WriteProblem(ww, r, Internal())
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

// LimitBody caps request bodies at max bytes with http.MaxBytesReader, so a
// handler reading past it gets an *http.MaxBytesError (DecodeJSON answers 413).
// A request whose Content-Length already exceeds max is answered 413 at once,
// without reading the body.
func LimitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				WriteProblem(w, r, payloadTooLarge(max))
				return
			}
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, max)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func payloadTooLarge(limit int64) *Problem {
	return NewProblem(SlugPayloadTooLarge,
		fmt.Sprintf("The request body is larger than the limit of %d bytes.", limit)).
		With("limit_bytes", limit)
}
