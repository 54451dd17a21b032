// Package identity authenticates API requests: it reads the bearer token, verifies it with the
// shared token rules, answers the SPEC §4.2 401 problems, and hands the verified claims to the
// handlers through the request context. The backend and the gateway both use it, so a token is
// judged the same way at every hop.
package identity

import (
	"context"
	"errors"
	"net/http"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/token"
)

type claimsKey struct{}

// WithClaims returns a context carrying verified claims.
func WithClaims(ctx context.Context, c *token.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the verified claims of the request, or nil when it was not authenticated.
func FromContext(ctx context.Context) *token.Claims {
	c, _ := ctx.Value(claimsKey{}).(*token.Claims)
	return c
}

// Authenticate verifies the request's bearer token and stores the claims in the context; a
// request without a valid token gets a 401 problem and never reaches next.
func Authenticate(v *token.Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, err := Verify(v, r)
			if err != nil {
				httpx.WriteProblem(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), claims)))
		})
	}
}

// Verify checks the request's Authorization header and returns the claims, or the 401 problem
// that describes what is wrong with it.
func Verify(v *token.Verifier, r *http.Request) (*token.Claims, *httpx.Problem) {
	raw, err := token.FromAuthorizationHeader(r.Header.Values("Authorization"))
	if err != nil {
		return nil, Problem(err)
	}
	claims, err := v.Verify(raw)
	if err != nil {
		return nil, Problem(err)
	}
	return claims, nil
}

// Problem maps a token error to its 401 problem (SPEC §4.2), with the WWW-Authenticate header of
// RFC 6750. The error kind decides the slug; the message is never inspected.
func Problem(err error) *httpx.Problem {
	var p *httpx.Problem
	challenge := `Bearer realm="waooaw"`
	switch {
	case errors.Is(err, token.ErrMissingHeader):
		p = httpx.NewProblem(httpx.SlugUnauthorized,
			"Missing Authorization header. Please provide a valid Bearer token.")
	case errors.Is(err, token.ErrHeaderFormat):
		p = httpx.NewProblem(httpx.SlugInvalidTokenFormat,
			"Authorization header must be in format: Bearer <token>")
		challenge += `, error="invalid_request"`
	case errors.Is(err, token.ErrExpired):
		p = httpx.NewProblem(httpx.SlugTokenExpired,
			"Your authentication token has expired. Please log in again.")
		challenge += `, error="invalid_token", error_description="The token has expired"`
	default:
		reason := "token is invalid"
		var inv *token.InvalidError
		if errors.As(err, &inv) {
			reason = inv.Reason
		}
		p = httpx.NewProblem(httpx.SlugInvalidToken, "Token validation failed: "+reason)
		challenge += `, error="invalid_token"`
	}
	if p.Headers == nil {
		p.Headers = http.Header{}
	}
	p.Headers.Set("WWW-Authenticate", challenge)
	return p
}
