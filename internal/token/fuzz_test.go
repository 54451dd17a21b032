package token

import (
	"errors"
	"testing"
	"time"
)

// FuzzVerify checks that Verify never panics and that every outcome is one of
// the three documented ones: valid claims, ErrExpired, or an *InvalidError.
func FuzzVerify(f *testing.F) {
	key := mustGenerate(f, ES256)
	v := mustVerifier(f, VerifierConfig{Audience: "api"}, mustKeySet(f, key))

	valid := validClaims()
	valid.Audience = []string{"api"}
	end := testNow.Add(time.Hour)
	valid.TrialMode, valid.TrialExpiresAt = true, &end
	valid.Extra = map[string]any{"k": []any{1.0, "x", map[string]any{"n": nil}}}
	f.Add(mustSign(f, key, valid))
	expired := validClaims()
	expired.ExpiresAt = expired.IssuedAt
	f.Add(mustSign(f, key, expired))
	f.Add(encodeSegment(f, map[string]any{"alg": "none"}) + "." + encodeSegment(f, valid) + ".")
	f.Add(encodeSegment(f, map[string]any{"alg": "ES256", "kid": []int{1}}) + "." + encodeSegment(f, map[string]any{"roles": map[string]any{}}) + ".AA")
	for _, s := range []string{"", ".", "..", "a.b.c", "a.b.c.d", "e30.e30.", "e30.bnVsbA.", "eyJhbGciOiJFUzI1NiJ9.W10.AA"} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(raw)
		var inv *InvalidError
		switch {
		case err == nil:
			if c == nil || c.Subject == "" || len(c.Roles) == 0 || c.ExpiresAt == nil {
				t.Fatalf("accepted token with incomplete claims %+v", c)
			}
		case errors.Is(err, ErrExpired):
		case errors.As(err, &inv):
			if inv.Reason == "" {
				t.Fatal("InvalidError with an empty reason")
			}
		default:
			t.Fatalf("Verify error %v (%T) is neither ErrExpired nor *InvalidError", err, err)
		}
	})
}
