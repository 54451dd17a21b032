package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// Header names for correlation and W3C trace context.
const (
	HeaderCorrelationID = "X-Correlation-ID"
	HeaderRequestID     = "X-Request-ID"
	HeaderTraceparent   = "traceparent"
)

// maxCorrelationIDLen bounds a client-chosen id: it lands in every log line
// and problem body, so it must stay short and printable.
const maxCorrelationIDLen = 128

type contextKey int

const (
	correlationKey contextKey = iota
	traceKey
)

// Correlation gives every request a correlation id and a trace context and
// stores both in the request context.
//
// The id is the client's X-Correlation-ID, else its X-Request-ID, else a new
// UUID; a client value that is empty, longer than 128 characters or has
// characters outside [A-Za-z0-9._:-] is not trusted and replaced, because it
// ends up in logs and response bodies. The id is echoed on the response as
// X-Correlation-ID.
//
// A valid incoming traceparent is continued (same trace-id); a missing or
// invalid one starts a fresh trace.
func Correlation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderCorrelationID)
		if !validCorrelationID(id) {
			id = r.Header.Get(HeaderRequestID)
		}
		if !validCorrelationID(id) {
			id = uuid.NewString()
		}
		tc, ok := parseTraceparent(r.Header.Get(HeaderTraceparent))
		if !ok {
			tc = newTrace()
		}
		ctx := context.WithValue(WithCorrelationID(r.Context(), id), traceKey, tc)
		w.Header().Set(HeaderCorrelationID, id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func validCorrelationID(id string) bool {
	if id == "" || len(id) > maxCorrelationIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// CorrelationID returns the correlation id stored in ctx, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey).(string)
	return id
}

// WithCorrelationID returns a copy of ctx carrying id, for work that starts
// outside a request (a CLI call, a background job) but should still be
// correlated.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey, id)
}

// traceContext is a parsed W3C traceparent (version 00).
type traceContext struct {
	traceID  string // 32 lowercase hex digits, not all zero
	parentID string // 16 lowercase hex digits, not all zero
	flags    string // 2 lowercase hex digits
}

func (tc traceContext) String() string {
	return "00-" + tc.traceID + "-" + tc.parentID + "-" + tc.flags
}

// parseTraceparent parses a W3C traceparent header. A version newer than 00 is
// read as 00 as the spec asks (its first four fields keep their meaning).
func parseTraceparent(s string) (traceContext, bool) {
	const v00Len = 55 // "vv-" + 32 + "-" + 16 + "-" + "ff"
	if len(s) < v00Len || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return traceContext{}, false
	}
	version := s[0:2]
	if !isLowerHex(version) || version == "ff" {
		return traceContext{}, false
	}
	if version == "00" && len(s) != v00Len {
		return traceContext{}, false
	}
	if version != "00" && len(s) > v00Len && s[v00Len] != '-' {
		return traceContext{}, false
	}
	tc := traceContext{traceID: s[3:35], parentID: s[36:52], flags: s[53:55]}
	if !isLowerHex(tc.traceID) || !isLowerHex(tc.parentID) || !isLowerHex(tc.flags) ||
		isZeros(tc.traceID) || isZeros(tc.parentID) {
		return traceContext{}, false
	}
	return tc, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isZeros(s string) bool { return strings.Trim(s, "0") == "" }

// newTrace starts a trace. It is marked sampled: every request is logged.
func newTrace() traceContext {
	return traceContext{traceID: randomHex(16), parentID: randomHex(8), flags: "01"}
}

// randomHex returns n random bytes as hex, never all zeros (an invalid id).
func randomHex(n int) string {
	b := make([]byte, n)
	for {
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		if s := hex.EncodeToString(b); !isZeros(s) {
			return s
		}
	}
}

func traceFrom(ctx context.Context) (traceContext, bool) {
	tc, ok := ctx.Value(traceKey).(traceContext)
	return tc, ok
}

// Traceparent returns the request's traceparent as received (or as started
// by Correlation), or "" when ctx has none.
func Traceparent(ctx context.Context) string {
	if tc, ok := traceFrom(ctx); ok {
		return tc.String()
	}
	return ""
}

// TraceID returns the trace-id of the request's trace, or "".
func TraceID(ctx context.Context) string {
	tc, _ := traceFrom(ctx)
	return tc.traceID
}

// ChildTraceparent returns the traceparent to send to the next hop: the same
// trace-id and flags with a new parent-id, or "" when ctx has no trace.
func ChildTraceparent(ctx context.Context) string {
	tc, ok := traceFrom(ctx)
	if !ok {
		return ""
	}
	tc.parentID = randomHex(8)
	return tc.String()
}

// SetOutboundHeaders sets X-Correlation-ID and a child traceparent from ctx on
// the headers of an outgoing request, replacing whatever the client sent.
// Values ctx does not have are left for the next hop to create.
func SetOutboundHeaders(ctx context.Context, h http.Header) {
	if id := CorrelationID(ctx); id != "" {
		h.Set(HeaderCorrelationID, id)
	}
	if tp := ChildTraceparent(ctx); tp != "" {
		h.Set(HeaderTraceparent, tp)
	}
}
