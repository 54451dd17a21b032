package token

import (
	"encoding/pem"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	trialEnd := testNow.Add(72 * time.Hour)
	for _, alg := range []Algorithm{RS256, ES256, EdDSA, HS256} {
		t.Run(string(alg), func(t *testing.T) {
			key := mustGenerate(t, alg)
			want := validClaims()
			want.Roles = []string{RoleAdmin, RoleViewer}
			want.GovernorAgentID = "gov-1"
			want.AgentID = "agent-7"
			want.TrialMode = true
			want.TrialExpiresAt = &trialEnd
			want.Audience = jwt.ClaimStrings{"waooaw-api"}
			want.NotBefore = want.IssuedAt
			want.Extra = map[string]any{"team": "growth", "tier": float64(2)}

			raw := mustSign(t, key, want)
			header, _, err := ParseUnverified(raw)
			if err != nil {
				t.Fatalf("ParseUnverified: %v", err)
			}
			if header["alg"] != string(alg) || header["kid"] != key.KeyID() {
				t.Errorf("header = %v, want alg %s and kid %s", header, alg, key.KeyID())
			}

			v := mustVerifier(t, VerifierConfig{Audience: "waooaw-api"}, mustKeySet(t, key))
			got, err := v.Verify(raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("claims differ after round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	key := mustGenerate(t, RS256)
	keys := mustKeySet(t, key)
	publicPEM, err := key.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}

	// claims returns validClaims changed by edit.
	claims := func(edit func(c *Claims)) *Claims {
		c := validClaims()
		edit(c)
		return c
	}
	signed := func(edit func(c *Claims)) func(t *testing.T) string {
		return func(t *testing.T) string { return mustSign(t, key, claims(edit)) }
	}
	tests := []struct {
		name        string
		token       func(t *testing.T) string
		cfg         VerifierConfig
		wantReason  string // "" with wantExpired false: accepted
		wantExpired bool
	}{
		{name: "valid", token: signed(func(*Claims) {})},
		{
			name: "alg none",
			token: func(t *testing.T) string {
				return encodeSegment(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + encodeSegment(t, validClaims()) + "."
			},
			wantReason: "unexpected signing method none",
		},
		{
			name: "HS256 signed with the RSA public key PEM",
			token: func(t *testing.T) string {
				return hs256(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": key.KeyID()}, validClaims(), publicPEM)
			},
			wantReason: "unexpected signing method HS256",
		},
		{
			name: "HS256 signed with the RSA public key DER",
			token: func(t *testing.T) string {
				der := mustDecodePEM(t, publicPEM)
				return hs256(t, map[string]any{"alg": "HS256", "typ": "JWT"}, validClaims(), der)
			},
			wantReason: "unexpected signing method HS256",
		},
		{
			name: "unknown alg",
			token: func(t *testing.T) string {
				return encodeSegment(t, map[string]any{"alg": "XX999"}) + "." + encodeSegment(t, validClaims()) + ".c2ln"
			},
			wantReason: "unexpected signing method XX999",
		},
		{
			name: "no alg",
			token: func(t *testing.T) string {
				return encodeSegment(t, map[string]any{"typ": "JWT"}) + "." + encodeSegment(t, validClaims()) + ".c2ln"
			},
			wantReason: "missing signing method (alg)",
		},
		{
			name: "expired",
			token: signed(func(c *Claims) {
				c.IssuedAt = jwt.NewNumericDate(testNow.Add(-2 * time.Hour))
				c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Hour))
			}),
			wantExpired: true,
		},
		{
			name:        "expires exactly now",
			token:       signed(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow) }),
			wantExpired: true,
		},
		{
			name:  "expired within leeway",
			token: signed(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-10 * time.Second)) }),
			cfg:   VerifierConfig{Leeway: 30 * time.Second},
		},
		{
			name: "expired and wrong issuer reports the issuer",
			token: signed(func(c *Claims) {
				c.Issuer = "evil"
				c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Second))
			}),
			wantReason: `issuer "evil" is not accepted`,
		},
		{
			name: "iat in the future",
			token: signed(func(c *Claims) {
				c.IssuedAt = jwt.NewNumericDate(testNow.Add(time.Hour))
				c.ExpiresAt = jwt.NewNumericDate(testNow.Add(2 * time.Hour))
			}),
			wantReason: "token used before issued",
		},
		{
			name:  "iat in the future within leeway",
			token: signed(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(testNow.Add(20 * time.Second)) }),
			cfg:   VerifierConfig{Leeway: 30 * time.Second},
		},
		{
			name:       "nbf in the future",
			token:      signed(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(testNow.Add(time.Minute)) }),
			wantReason: "token is not valid yet",
		},
		{
			name:  "nbf in the past",
			token: signed(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(testNow.Add(-time.Minute)) }),
		},
		{
			name:       "lifetime over 24h",
			token:      signed(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(25 * time.Hour)) }),
			wantReason: "token lifetime exceeds 24h0m0s",
		},
		{
			name:  "lifetime exactly 24h",
			token: signed(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(24 * time.Hour)) }),
		},
		{
			name:       "lifetime over configured maximum",
			token:      signed(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(2 * time.Hour)) }),
			cfg:        VerifierConfig{MaxLifetime: time.Hour},
			wantReason: "token lifetime exceeds 1h0m0s",
		},
		{
			name:       "exp before iat",
			token:      signed(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(-time.Second)) }),
			wantReason: "token expires before it was issued",
		},
		{
			name:       "wrong issuer",
			token:      signed(func(c *Claims) { c.Issuer = "evil" }),
			wantReason: `issuer "evil" is not accepted`,
		},
		{
			name:  "second configured issuer",
			token: signed(func(c *Claims) { c.Issuer = "staging.waooaw.com" }),
			cfg:   VerifierConfig{Issuers: []string{"waooaw.com", "staging.waooaw.com"}},
		},
		{
			name:       "default issuer not accepted when others configured",
			token:      signed(func(*Claims) {}),
			cfg:        VerifierConfig{Issuers: []string{"staging.waooaw.com"}},
			wantReason: `issuer "waooaw.com" is not accepted`,
		},
		{
			name:       "audience mismatch",
			token:      signed(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other-api"} }),
			cfg:        VerifierConfig{Audience: "waooaw-api"},
			wantReason: `token audience does not include "waooaw-api"`,
		},
		{
			name:       "audience missing when required",
			token:      signed(func(*Claims) {}),
			cfg:        VerifierConfig{Audience: "waooaw-api"},
			wantReason: `token audience does not include "waooaw-api"`,
		},
		{
			name:  "audience among several",
			token: signed(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other-api", "waooaw-api"} }),
			cfg:   VerifierConfig{Audience: "waooaw-api"},
		},
		{
			name:  "audience ignored when not configured",
			token: signed(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other-api"} }),
		},
		{name: "missing sub", token: signed(func(c *Claims) { c.Subject = "" }), wantReason: `missing required claim "sub"`},
		{name: "missing user_id", token: signed(func(c *Claims) { c.UserID = "" }), wantReason: `missing required claim "user_id"`},
		{name: "missing email", token: signed(func(c *Claims) { c.Email = "" }), wantReason: `missing required claim "email"`},
		{name: "missing roles", token: signed(func(c *Claims) { c.Roles = nil }), wantReason: `missing required claim "roles"`},
		{name: "missing iat", token: signed(func(c *Claims) { c.IssuedAt = nil }), wantReason: `missing required claim "iat"`},
		{name: "missing exp", token: signed(func(c *Claims) { c.ExpiresAt = nil }), wantReason: `missing required claim "exp"`},
		{name: "missing iss", token: signed(func(c *Claims) { c.Issuer = "" }), wantReason: `missing required claim "iss"`},
		{name: "empty roles", token: signed(func(c *Claims) { c.Roles = []string{} }), wantReason: `claim "roles" must not be empty`},
		{name: "unknown role", token: signed(func(c *Claims) { c.Roles = []string{RoleViewer, "root"} }), wantReason: `unknown role "root"`},
		{
			name:       "customer and platform roles mixed",
			token:      signed(func(c *Claims) { c.Roles = []string{RoleCustomerAdmin, RoleViewer} }),
			wantReason: "roles mix the customer role customer_admin with the platform role viewer; a token holds one kind",
		},
		{name: "newline in sub", token: signed(func(c *Claims) { c.Subject = "u\nX-Admin: 1" }), wantReason: `claim "sub" holds control characters or invalid UTF-8`},
		{name: "carriage return in user_id", token: signed(func(c *Claims) { c.UserID = "u\r" }), wantReason: `claim "user_id" holds control characters or invalid UTF-8`},
		{name: "NUL in customer_id", token: signed(func(c *Claims) { c.CustomerID = "c\x00" }), wantReason: `claim "customer_id" holds control characters or invalid UTF-8`},
		{name: "DEL in email", token: signed(func(c *Claims) { c.Email = "a\x7f@b" }), wantReason: `claim "email" holds control characters or invalid UTF-8`},
		{name: "tab in agent_id", token: signed(func(c *Claims) { c.AgentID = "a\tb" }), wantReason: `claim "agent_id" holds control characters or invalid UTF-8`},
		{name: "C1 control in governor_agent_id", token: signed(func(c *Claims) { c.GovernorAgentID = "g\u0085" }), wantReason: `claim "governor_agent_id" holds control characters or invalid UTF-8`},
		{
			name: "invalid UTF-8 in sub",
			token: func(t *testing.T) string {
				return signWithHeader(t, key, rawPayload{"sub": "u\xff", "user_id": "u", "email": "e", "roles": []string{RoleViewer},
					"iss": DefaultIssuer, "iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix()}, nil)
			},
			wantReason: `claim "sub" holds control characters or invalid UTF-8`,
		},
		{
			name: "exp as a string",
			token: func(t *testing.T) string {
				return signWithHeader(t, key, rawPayload{"sub": "u", "user_id": "u", "email": "e", "roles": []string{RoleViewer},
					"iss": DefaultIssuer, "iat": testNow.Unix(), "exp": strconv.FormatInt(testNow.Add(time.Hour).Unix(), 10)}, nil)
			},
			wantReason: `claim "exp" has the wrong type`,
		},
		{
			name: "iat as a string",
			token: func(t *testing.T) string {
				return signWithHeader(t, key, rawPayload{"sub": "u", "user_id": "u", "email": "e", "roles": []string{RoleViewer},
					"iss": DefaultIssuer, "iat": strconv.FormatInt(testNow.Unix(), 10), "exp": testNow.Add(time.Hour).Unix()}, nil)
			},
			wantReason: `claim "iat" has the wrong type`,
		},
		{
			name: "nbf as a string",
			token: func(t *testing.T) string {
				return signWithHeader(t, key, rawPayload{"sub": "u", "user_id": "u", "email": "e", "roles": []string{RoleViewer},
					"iss": DefaultIssuer, "iat": testNow.Unix(), "nbf": "0", "exp": testNow.Add(time.Hour).Unix()}, nil)
			},
			wantReason: `claim "nbf" has the wrong type`,
		},
		{
			name:       "unknown long role is cut",
			token:      signed(func(c *Claims) { c.Roles = []string{strings.Repeat("r", 100)} }),
			wantReason: `unknown role "` + strings.Repeat("r", 40) + `…"`,
		},
		{
			name: "roles of the wrong type",
			token: func(t *testing.T) string {
				return signWithHeader(t, key, rawPayload{"sub": "u", "user_id": "u", "email": "e", "roles": "admin",
					"iss": DefaultIssuer, "iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix()}, nil)
			},
			wantReason: `claim "roles" has the wrong type`,
		},
		{
			name:       "trial without expiry",
			token:      signed(func(c *Claims) { c.TrialMode = true }),
			wantReason: "trial_mode requires trial_expires_at",
		},
		{
			name: "trial with expiry",
			token: signed(func(c *Claims) {
				end := testNow.Add(time.Hour)
				c.TrialMode, c.TrialExpiresAt = true, &end
			}),
		},
		{
			name: "tampered payload",
			token: func(t *testing.T) string {
				parts := segments(t, mustSign(t, key, validClaims()))
				parts[1] = encodeSegment(t, claims(func(c *Claims) { c.Roles = []string{RoleAdmin} }))
				return strings.Join(parts, ".")
			},
			wantReason: "signature is invalid",
		},
		{
			name: "tampered signature",
			token: func(t *testing.T) string {
				raw := []byte(mustSign(t, key, validClaims()))
				i := len(raw) - 20
				raw[i] = map[bool]byte{true: 'B', false: 'A'}[raw[i] == 'A']
				return string(raw)
			},
			wantReason: "signature is invalid",
		},
		{
			name: "signature of another token",
			token: func(t *testing.T) string {
				a := segments(t, mustSign(t, key, validClaims()))
				b := segments(t, mustSign(t, key, claims(func(c *Claims) { c.Email = "other@example.com" })))
				return a[0] + "." + a[1] + "." + b[2]
			},
			wantReason: "signature is invalid",
		},
		{
			name: "truncated",
			token: func(t *testing.T) string {
				raw := mustSign(t, key, validClaims())
				return raw[:strings.LastIndexByte(raw, '.')]
			},
			wantReason: "token is malformed: want three base64url segments",
		},
		{
			name: "signature cut short",
			token: func(t *testing.T) string {
				raw := mustSign(t, key, validClaims())
				return raw[:len(raw)-10]
			},
			wantReason: "signature is invalid",
		},
		{
			name:       "four segments",
			token:      func(t *testing.T) string { return mustSign(t, key, validClaims()) + ".x" },
			wantReason: "token is malformed: want three base64url segments",
		},
		{
			name:       "not base64url",
			token:      func(t *testing.T) string { return "eyJ+.eyJ/.sig=" },
			wantReason: "token is malformed: want three base64url segments",
		},
		{
			name:       "empty",
			token:      func(t *testing.T) string { return "" },
			wantReason: "token is malformed: want three base64url segments",
		},
		{
			name:       "header not JSON",
			token:      func(t *testing.T) string { return "bm90LWpzb24." + encodeSegment(t, validClaims()) + ".c2ln" },
			wantReason: "token is malformed",
		},
		{
			name: "payload not an object",
			token: func(t *testing.T) string {
				return encodeSegment(t, map[string]any{"alg": "RS256"}) + "." + encodeSegment(t, []int{1}) + ".c2ln"
			},
			wantReason: "token is malformed",
		},
		{
			name:       "9 KiB token",
			token:      signed(func(c *Claims) { c.Extra = map[string]any{"pad": strings.Repeat("x", 9*1024)} }),
			wantReason: "token is larger than 8192 bytes",
		},
		{
			name: "unknown kid",
			token: func(t *testing.T) string {
				return signWithHeader(t, key, validClaims(), map[string]any{"kid": "retired-key"})
			},
			wantReason: `unknown key id "retired-key"`,
		},
		{
			name:       "kid not a string",
			token:      func(t *testing.T) string { return signWithHeader(t, key, validClaims(), map[string]any{"kid": 7}) },
			wantReason: "key id (kid) must be a string",
		},
		{
			name:  "no kid with a single key",
			token: func(t *testing.T) string { return signWithHeader(t, key, validClaims(), map[string]any{"kid": nil}) },
		},
		{
			name: "critical header",
			token: func(t *testing.T) string {
				return signWithHeader(t, key, validClaims(), map[string]any{"crit": []string{"exp"}, "exp": 1})
			},
			wantReason: "unsupported critical header parameters",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.token(t)
			v := mustVerifier(t, tt.cfg, keys)
			got, err := v.Verify(raw)
			switch {
			case tt.wantExpired:
				if !errors.Is(err, ErrExpired) {
					t.Fatalf("Verify error = %v, want ErrExpired", err)
				}
				var inv *InvalidError
				if errors.As(err, &inv) {
					t.Errorf("expired token also reported invalid: %v", err)
				}
			case tt.wantReason != "":
				if err == nil {
					t.Fatalf("Verify accepted the token, want %q", tt.wantReason)
				}
				if reason := reasonOf(t, err); reason != tt.wantReason {
					t.Errorf("reason = %q, want %q", reason, tt.wantReason)
				}
			default:
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if got == nil || got.Subject == "" {
					t.Fatalf("Verify returned claims %+v", got)
				}
				return
			}
			if got != nil {
				t.Errorf("Verify returned claims with an error")
			}
			if sig := raw[strings.LastIndexByte(raw, '.')+1:]; len(sig) > 8 && strings.Contains(err.Error(), sig) {
				t.Errorf("reason %q leaks the signature", err)
			}
		})
	}
}

func mustDecodePEM(t *testing.T, pemBytes []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("no PEM block")
	}
	return block.Bytes
}

func TestVerifyCache(t *testing.T) {
	key := mustGenerate(t, EdDSA)
	keys := mustKeySet(t, key)
	now := testNow
	v := mustVerifier(t, VerifierConfig{Now: func() time.Time { return now }}, keys)

	c := validClaims()
	c.Extra = map[string]any{"team": "growth"}
	raw := mustSign(t, key, c)
	first, err := v.Verify(raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if n := v.cache.len(); n != 1 {
		t.Fatalf("cache holds %d tokens after one verification, want 1", n)
	}
	want := first.clone()

	// Changing what Verify returned must not change what it returns next.
	first.Roles[0], first.Email, first.Extra["team"] = "root", "x", "other"
	first.IssuedAt.Time = first.IssuedAt.Add(time.Hour)
	again, err := v.Verify(raw)
	if err != nil {
		t.Fatalf("Verify from cache: %v", err)
	}
	if !reflect.DeepEqual(again, want) {
		t.Errorf("cached claims changed:\n got %+v\nwant %+v", again, want)
	}

	// A cached token still expires.
	now = c.ExpiresAt.Add(time.Second)
	if _, err := v.Verify(raw); !errors.Is(err, ErrExpired) {
		t.Errorf("Verify of a cached token after exp = %v, want ErrExpired", err)
	}
	if n := v.cache.len(); n != 0 {
		t.Errorf("cache holds %d tokens after expiry, want 0", n)
	}

	// Rejected tokens are not cached.
	now = testNow
	parts := segments(t, raw)
	parts[1] = encodeSegment(t, validClaims())
	if _, err := v.Verify(strings.Join(parts, ".")); err == nil {
		t.Fatal("tampered token accepted")
	}
	if n := v.cache.len(); n != 0 {
		t.Errorf("cache holds %d tokens after a rejection, want 0", n)
	}

	// The cache is bounded, and can be turned off.
	small := mustVerifier(t, VerifierConfig{CacheSize: 2}, keys)
	off := mustVerifier(t, VerifierConfig{CacheSize: -1}, keys)
	for range 3 {
		raw := mustSign(t, key, validClaims()) // a fresh jti each time
		for _, v := range []*Verifier{small, off} {
			if _, err := v.Verify(raw); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		}
	}
	if n := small.cache.len(); n != 2 {
		t.Errorf("cache of size 2 holds %d tokens", n)
	}
	if off.cache != nil {
		t.Error("CacheSize -1 left the cache on")
	}
}

// BenchmarkVerify measures the cost of verifying a token not seen before.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []Algorithm{RS256, ES256, EdDSA, HS256} {
		b.Run(string(alg), func(b *testing.B) {
			key := mustGenerate(b, alg)
			v := mustVerifier(b, VerifierConfig{CacheSize: -1}, mustKeySet(b, key))
			raw := mustSign(b, key, validClaims())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyCached measures the cost of a token seen before, the common
// case of a client sending the same token on every request.
func BenchmarkVerifyCached(b *testing.B) {
	key := mustGenerate(b, RS256)
	v := mustVerifier(b, VerifierConfig{}, mustKeySet(b, key))
	raw := mustSign(b, key, validClaims())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(raw); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
