package identity

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/token"
)

func TestAuthenticate(t *testing.T) {
	key, err := token.GenerateSigningKey(token.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := key.PublicKeySet()
	v, err := token.NewVerifier(token.VerifierConfig{}, keys)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(ttl time.Duration, mutate func(*token.Claims)) string {
		c := token.NewClaims("u1", "u1@example.com", []string{token.RoleViewer}, ttl, time.Now().Add(-time.Minute))
		if mutate != nil {
			mutate(c)
		}
		raw, err := key.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	var seen *token.Claims
	h := httpx.Correlation(Authenticate(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = FromContext(r.Context())
	})))

	cases := []struct {
		name, header, slug, detail, challenge string
	}{
		{"missing", "", httpx.SlugUnauthorized, "Missing Authorization header. Please provide a valid Bearer token.", `Bearer realm="waooaw"`},
		{"wrong scheme", "Basic abc", httpx.SlugInvalidTokenFormat, "Authorization header must be in format: Bearer <token>", `error="invalid_request"`},
		{"three parts", "Bearer a b", httpx.SlugInvalidTokenFormat, "Authorization header must be in format: Bearer <token>", `error="invalid_request"`},
		{"expired", "Bearer " + sign(30*time.Second, nil), httpx.SlugTokenExpired, "Your authentication token has expired. Please log in again.", `error="invalid_token"`},
		{"wrong issuer", "Bearer " + sign(time.Hour, func(c *token.Claims) { c.Issuer = "evil" }), httpx.SlugInvalidToken, "Token validation failed: ", `error="invalid_token"`},
		{"garbage", "Bearer x.y.z", httpx.SlugInvalidToken, "Token validation failed: ", `error="invalid_token"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen = nil
			req := httptest.NewRequest("GET", "/api/v1/agents", nil)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 401 || seen != nil {
				t.Fatalf("status %d, handler reached: %v", rec.Code, seen != nil)
			}
			var p map[string]any
			json.Unmarshal(rec.Body.Bytes(), &p)
			if p["type"] != httpx.ProblemTypeBase+c.slug || !strings.HasPrefix(p["detail"].(string), c.detail) {
				t.Errorf("problem %v", p)
			}
			if ch := rec.Header().Get("WWW-Authenticate"); !strings.Contains(ch, c.challenge) {
				t.Errorf("WWW-Authenticate %q lacks %q", ch, c.challenge)
			}
		})
	}

	req := httptest.NewRequest("GET", "/api/v1/agents", nil)
	req.Header.Set("Authorization", "bearer "+sign(time.Hour, nil))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || seen == nil || seen.Subject != "u1" {
		t.Fatalf("valid token: status %d, claims %+v", rec.Code, seen)
	}
}
