package httpx

import (
	"context"
	"net/http"
)

type clientPathKey struct{}

// WithClientPath returns r with its current path remembered as the path the client asked for,
// unless an earlier hop in this process already remembered one. Call it before rewriting
// r.URL.Path (an alias, a proxy's upstream path): problems answered afterwards still name the
// path the client sent as their instance (RFC 9457 §3.1.5), not the rewritten one.
func WithClientPath(r *http.Request) *http.Request { return withClientPath(r, r.URL.Path) }

func withClientPath(r *http.Request, path string) *http.Request {
	if _, ok := r.Context().Value(clientPathKey{}).(string); ok {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), clientPathKey{}, path))
}

// ClientPath returns the path the client asked for: the one WithClientPath remembered, or else
// r.URL.Path.
func ClientPath(r *http.Request) string {
	if p, ok := r.Context().Value(clientPathKey{}).(string); ok {
		return p
	}
	return r.URL.Path
}
