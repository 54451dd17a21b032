package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testNow is the fixed clock of every test where time matters.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// validClaims returns claims that every default verifier accepts at testNow.
func validClaims() *Claims {
	c := NewClaims("user-1", "user@example.com", []string{RoleSubscriptionManager}, time.Hour, testNow.Add(-time.Minute))
	c.CustomerID = "c-1"
	return c
}

func mustGenerate(t testing.TB, alg Algorithm) *SigningKey {
	t.Helper()
	k, err := GenerateSigningKey(alg)
	if err != nil {
		t.Fatalf("GenerateSigningKey(%s): %v", alg, err)
	}
	return k
}

func mustSign(t testing.TB, k *SigningKey, c *Claims) string {
	t.Helper()
	s, err := k.Sign(c)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return s
}

func mustKeySet(t testing.TB, k *SigningKey) *KeySet {
	t.Helper()
	ks, err := k.PublicKeySet()
	if err != nil {
		t.Fatalf("PublicKeySet: %v", err)
	}
	return ks
}

func mustVerifier(t testing.TB, cfg VerifierConfig, ks *KeySet) *Verifier {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = fixedClock
	}
	v, err := NewVerifier(cfg, ks)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// signWithHeader signs c with k through golang-jwt directly, with the given
// header members set (a nil value deletes the member), to craft tokens
// SigningKey.Sign would never produce.
func signWithHeader(t testing.TB, k *SigningKey, c any, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.alg.method(), claimsOf(c))
	tok.Header["kid"] = k.kid
	for name, value := range header {
		if value == nil {
			delete(tok.Header, name)
		} else {
			tok.Header[name] = value
		}
	}
	s, err := tok.SignedString(k.private)
	if err != nil {
		t.Fatalf("sign crafted token: %v", err)
	}
	return s
}

// rawPayload is a payload given as plain JSON, so tests can send claims
// of the wrong type.
type rawPayload map[string]any

func claimsOf(c any) jwt.Claims {
	switch c := c.(type) {
	case *Claims:
		return c
	case rawPayload:
		return jwt.MapClaims(c)
	}
	panic("claimsOf: unexpected type")
}

// encodeSegment base64url-encodes v as JSON.
func encodeSegment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal segment: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hs256 builds an HS256 token by hand: header.payload signed with secret.
func hs256(t testing.TB, header map[string]any, c *Claims, secret []byte) string {
	t.Helper()
	signingInput := encodeSegment(t, header) + "." + encodeSegment(t, c)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signingInput))
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// reasonOf returns the reason of an *InvalidError, failing the test for any
// other error.
func reasonOf(t testing.TB, err error) string {
	t.Helper()
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("error %v (%T) is not an *InvalidError", err, err)
	}
	if errors.Is(err, ErrExpired) {
		t.Fatalf("error %v is both invalid and expired", err)
	}
	return inv.Reason
}

// segments splits a compact token.
func segments(t testing.TB, raw string) []string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	return parts
}
