package httpx

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// redacted replaces the value of an attribute that may hold a secret.
const redacted = "[REDACTED]"

// NewLogger returns a JSON slog logger writing to w at level ("debug",
// "info", "warn" or "error", case-insensitive; "" means info), with the
// attribute service=<service> on every record.
//
// Records logged with a *Context method get correlation_id and trace_id from
// the context. Attributes that may hold a secret are replaced with
// "[REDACTED]": see isSecretKey.
func NewLogger(w io.Writer, level, service string) (*slog.Logger, error) {
	lvl, err := parseLevel(level)
	if err != nil {
		return nil, err
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: lvl,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if isSecretKey(a.Key) {
				return slog.String(a.Key, redacted)
			}
			return a
		},
	})
	return slog.New(contextHandler{Handler: h}).With(slog.String("service", service)), nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("LOG_LEVEL %q is not one of debug, info, warn, error", s)
}

// isSecretKey reports whether an attribute named key may hold a secret: its
// last word (split on "_", "-" or ".") is token, authorization, password,
// secret, key or jwt, case-insensitive. Matching the last word also catches
// access_token, client_secret and x-api-key, while token_count stays visible.
func isSecretKey(key string) bool {
	if i := strings.LastIndexAny(key, "_-."); i >= 0 {
		key = key[i+1:]
	}
	switch strings.ToLower(key) {
	case "token", "authorization", "password", "secret", "key", "jwt":
		return true
	}
	return false
}

// contextHandler adds the request's correlation_id and trace_id to records
// logged with a context, unless the record or the logger already has them.
type contextHandler struct {
	slog.Handler
	hasCorrelationID bool
	hasTraceID       bool
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.Handler.Handle(ctx, r)
	}
	var add []slog.Attr
	if id := CorrelationID(ctx); id != "" && !h.hasCorrelationID && !recordHas(r, "correlation_id") {
		add = append(add, slog.String("correlation_id", id))
	}
	if id := TraceID(ctx); id != "" && !h.hasTraceID && !recordHas(r, "trace_id") {
		add = append(add, slog.String("trace_id", id))
	}
	if len(add) > 0 {
		r = r.Clone()
		r.AddAttrs(add...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	next := contextHandler{Handler: h.Handler.WithAttrs(attrs), hasCorrelationID: h.hasCorrelationID, hasTraceID: h.hasTraceID}
	for _, a := range attrs {
		next.hasCorrelationID = next.hasCorrelationID || a.Key == "correlation_id"
		next.hasTraceID = next.hasTraceID || a.Key == "trace_id"
	}
	return next
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{Handler: h.Handler.WithGroup(name), hasCorrelationID: h.hasCorrelationID, hasTraceID: h.hasTraceID}
}

func recordHas(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
