package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzFromAuthorizationHeader checks the header parser against its whole
// contract, in both directions: no header or a blank one is ErrMissingHeader;
// a single value of exactly "<bearer in any case> <token>", the token visible
// ASCII, yields that token; everything else is ErrHeaderFormat. A parser that
// accepted "Bearer  x" or a tab, or refused a well-formed value, fails here.
func FuzzFromAuthorizationHeader(f *testing.F) {
	for _, v := range []string{
		"Bearer x", "bearer x", "BEARER x", "bEaReR abc.def.ghi",
		"Bearer  x", "Bearer\tx", "Bearer \tx", "Bearer x ", " Bearer x", "Bearer x\t",
		"Basic x", "Basic dXNlcjpwYXNz", "", " ", "\t", "Bearer", "Bearer ", "Bearer a b",
		"Bearer x\x00y", "Bearer \x00", "\x00", "Bearer x\u00e9", "Bearer\u00a0x", "B\u00e9arer x",
		"Bearer x\xff", "Bearer \xc3", "Bearer x\x7f", "Bearer x\r\n", "Bearer\u2028x",
		"Bearer " + strings.Repeat("a", 100<<10),
	} {
		f.Add(v, "", uint8(1))
	}
	f.Add("", "", uint8(0))
	f.Add("Bearer a", "Bearer b", uint8(2))
	f.Add("Bearer a", "", uint8(2))

	f.Fuzz(func(t *testing.T, first, second string, count uint8) {
		values := []string{first, second}[:count%3]
		tok, err := FromAuthorizationHeader(values)
		if err != nil && tok != "" {
			t.Fatalf("%q: error %v together with token %q", values, err, tok)
		}
		switch {
		case len(values) == 0:
			if !errors.Is(err, ErrMissingHeader) {
				t.Fatalf("no header: %v, want ErrMissingHeader", err)
			}
			return
		case len(values) > 1:
			if !errors.Is(err, ErrHeaderFormat) {
				t.Fatalf("%q: %v, want ErrHeaderFormat for several headers", values, err)
			}
			return
		}
		v := values[0]
		scheme, want, hasSpace := strings.Cut(v, " ")
		wellFormed := hasSpace && strings.EqualFold(scheme, "bearer") && want != "" && visibleASCII(want)
		switch {
		case strings.TrimSpace(v) == "":
			if !errors.Is(err, ErrMissingHeader) {
				t.Fatalf("blank %q: %v, want ErrMissingHeader", v, err)
			}
		case wellFormed:
			if err != nil || tok != want {
				t.Fatalf("well-formed %q: got %q, %v; want %q", v, tok, err, want)
			}
		case err == nil:
			t.Fatalf("malformed %q accepted as token %q", v, tok)
		case !errors.Is(err, ErrHeaderFormat):
			t.Fatalf("malformed %q: %v, want ErrHeaderFormat", v, err)
		}
		if err == nil {
			if tok == "" || strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
				t.Fatalf("accepted token %q is empty or holds whitespace/control characters", tok)
			}
			if s, _, _ := strings.Cut(v, " "); !strings.EqualFold(s, "bearer") || v != s+" "+tok {
				t.Fatalf("accepted %q, which is not exactly \"<Bearer> <token>\"", v)
			}
		}
	})
}

// visibleASCII reports whether s holds only the printable ASCII characters
// other than space (0x21–0x7e).
func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// fuzzAudience is the audience the fuzzed verifiers require.
const fuzzAudience = "api"

// FuzzVerify checks every outcome of Verify. The input is either a whole
// token (signed=false), or a payload that the fuzz function signs with the
// trusted key (signed=true), so the fuzzer explores the claim rules behind
// the signature check and not only the token's framing. An accepted token
// must satisfy every rule of SPEC §4.2 as the test restates it; a rejection
// must be ErrExpired or an *InvalidError with a reason.
func FuzzVerify(f *testing.F) {
	key := mustGenerate(f, ES256)
	keys := mustKeySet(f, key)
	v := mustVerifier(f, VerifierConfig{Audience: fuzzAudience}, keys)
	// large has no size bound worth the name, so oversized payloads (10,000
	// roles) still reach the claim rules; it must agree with v otherwise.
	large := mustVerifier(f, VerifierConfig{Audience: fuzzAudience, MaxTokenBytes: 1 << 20, CacheSize: -1}, keys)
	header := encodeSegment(f, map[string]any{"alg": string(ES256), "kid": key.KeyID(), "typ": "JWT"})
	method := key.alg.method()
	sign := func(t *testing.T, payload string) string {
		input := header + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
		sig, err := method.Sign(input, key.private)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		return input + "." + base64.RawURLEncoding.EncodeToString(sig)
	}

	// Whole tokens.
	valid := validClaims()
	valid.Audience = []string{fuzzAudience}
	end := testNow.Add(time.Hour)
	valid.TrialMode, valid.TrialExpiresAt = true, &end
	valid.Extra = map[string]any{"k": []any{1.0, "x", map[string]any{"n": nil}}}
	f.Add(mustSign(f, key, valid), false)
	expired := validClaims()
	expired.ExpiresAt = expired.IssuedAt
	f.Add(mustSign(f, key, expired), false)
	f.Add(encodeSegment(f, map[string]any{"alg": "none"})+"."+encodeSegment(f, valid)+".", false)
	f.Add(encodeSegment(f, map[string]any{"alg": "ES256", "kid": []int{1}})+"."+encodeSegment(f, map[string]any{"roles": map[string]any{}})+".AA", false)
	for _, s := range []string{"", ".", "..", "a.b.c", "a.b.c.d", "e30.e30.", "e30.bnVsbA.", "eyJhbGciOiJFUzI1NiJ9.W10.AA", "\x00", "\xff.\xfe.\xfd"} {
		f.Add(s, false)
	}
	f.Add(strings.Repeat("A", 100<<10)+".e30.AA", false) // a 100 KB token

	// Payloads the test signs: every claim case of issue 9, items 2, 5, 6 and 7.
	base := func(mutate func(m map[string]any)) string {
		m := map[string]any{
			"sub": "user-1", "user_id": "user-1", "email": "user@example.com", "roles": []string{RoleViewer},
			"iss": DefaultIssuer, "aud": fuzzAudience,
			"iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(time.Hour).Unix(),
		}
		if mutate != nil {
			mutate(m)
		}
		b, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		return string(b)
	}
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	f.Add(base(nil), true)
	f.Add(base(set("customer_id", "c-1")), true)
	f.Add(base(set("roles", []string{RoleCustomerAdmin, RoleViewer})), true)
	f.Add(base(set("roles", []string{RoleCustomerUser, RoleAdmin})), true)
	f.Add(base(func(m map[string]any) { m["roles"], m["customer_id"] = []string{RoleCustomerAdmin, RoleViewer}, "c-1" }), true)
	f.Add(base(set("roles", []string{})), true)
	f.Add(base(set("roles", []string{"root"})), true)
	f.Add(base(set("roles", slices.Repeat([]string{RoleViewer}, 10_000))), true)
	for _, claim := range []string{"sub", "user_id", "email", "customer_id", "agent_id", "governor_agent_id", "iss"} {
		for _, bad := range []string{"\n", "\r", "\x00", "\x7f", "\u0085", "\u202e", "\xff", "a\r\nX-Injected: 1"} {
			f.Add(base(set(claim, "u"+bad)), true)
		}
	}
	for _, claim := range []string{"exp", "iat", "nbf"} {
		f.Add(base(set(claim, fmt.Sprint(testNow.Unix()))), true)
		f.Add(base(set(claim, testNow.Format(time.RFC3339))), true)
	}
	f.Add(base(set("nbf", testNow.Add(-time.Second).Unix())), true)
	f.Add(base(set("exp", testNow.Add(48*time.Hour).Unix())), true)
	f.Add(base(set("exp", 1e300)), true)
	f.Add(base(set("iat", -1)), true)
	f.Add(base(func(m map[string]any) { m["roles"], m["governor_agent_id"] = []string{RoleAdmin}, " " }), true)
	f.Add(base(set("trial_mode", true)), true)
	f.Add(base(func(m map[string]any) { m["trial_mode"], m["trial_expires_at"] = true, end.Format(time.RFC3339) }), true)
	f.Add(base(set("email", strings.Repeat("e", 100<<10))), true)
	for _, s := range []string{`{"sub":"a","sub":"b\u0000"}`, `{"roles":["viewer"],"roles":null}`, `{`, `null`, `[]`, `"x"`, "{\"sub\":\"\xff\"}"} {
		f.Add(s, true)
	}

	f.Fuzz(func(t *testing.T, raw string, signed bool) {
		tok := raw
		if signed {
			tok = sign(t, raw)
		}
		c, err := v.Verify(tok)
		checkVerifyOutcome(t, c, err)
		if !signed {
			return
		}
		cl, errl := large.Verify(tok)
		checkVerifyOutcome(t, cl, errl)
		switch {
		case len(tok) > DefaultMaxTokenBytes:
			if err == nil || errors.Is(err, ErrExpired) {
				t.Fatalf("a %d-byte token passed the %d-byte limit: %v", len(tok), DefaultMaxTokenBytes, err)
			}
		case (err == nil) != (errl == nil) || errors.Is(err, ErrExpired) != errors.Is(errl, ErrExpired):
			t.Fatalf("verifiers that differ only in size limit disagree: %v vs %v", err, errl)
		}
		if errl == nil {
			checkAgainstPayload(t, raw, cl)
		}
	})
}

// checkVerifyOutcome asserts that an outcome of Verify is one of the
// documented ones and, for an accepted token, that its claims obey the rules.
func checkVerifyOutcome(t *testing.T, c *Claims, err error) {
	t.Helper()
	var inv *InvalidError
	switch {
	case err == nil:
	case errors.Is(err, ErrExpired):
		if c != nil {
			t.Fatal("claims returned together with ErrExpired")
		}
		return
	case errors.As(err, &inv):
		if inv.Reason == "" || c != nil {
			t.Fatalf("InvalidError with reason %q and claims %v", inv.Reason, c)
		}
		return
	default:
		t.Fatalf("Verify error %v (%T) is neither ErrExpired nor *InvalidError", err, err)
	}
	if c == nil || c.Subject == "" || c.UserID == "" || c.Email == "" {
		t.Fatalf("accepted token with missing identity claims %+v", c)
	}
	for name, value := range map[string]string{
		"sub": c.Subject, "user_id": c.UserID, "email": c.Email, "customer_id": c.CustomerID,
		"agent_id": c.AgentID, "governor_agent_id": c.GovernorAgentID, "iss": c.Issuer,
	} {
		if !utf8.ValidString(value) || strings.ContainsRune(value, utf8.RuneError) || strings.IndexFunc(value, unicode.IsControl) >= 0 {
			t.Fatalf("accepted token whose %s %q holds control characters or invalid UTF-8", name, value)
		}
	}
	if err := CheckRoles(c.Roles); err != nil {
		t.Fatalf("accepted token with roles %q: %v", c.Roles, err)
	}
	// The same rule restated, so a CheckRoles that stopped checking is caught too.
	customer := slices.ContainsFunc(c.Roles, IsCustomerRole)
	platform := slices.ContainsFunc(c.Roles, func(r string) bool { return !IsCustomerRole(r) })
	if len(c.Roles) == 0 || customer && platform {
		t.Fatalf("accepted token with roles %q: empty, or customer and platform roles mixed", c.Roles)
	}
	for _, r := range c.Roles {
		if !slices.Contains(Roles(), r) {
			t.Fatalf("accepted token with unknown role %q", r)
		}
	}
	if c.IssuedAt == nil || c.ExpiresAt == nil {
		t.Fatalf("accepted token without iat or exp: %+v", c)
	}
	iat, exp := c.IssuedAt.Time, c.ExpiresAt.Time
	if exp.Before(iat) || exp.Sub(iat) > DefaultMaxLifetime || iat.After(testNow) || !testNow.Before(exp) ||
		(c.NotBefore != nil && c.NotBefore.After(testNow)) {
		t.Fatalf("accepted token outside its time rules at %s: iat %s exp %s nbf %v", testNow, iat, exp, c.NotBefore)
	}
	if c.Issuer != DefaultIssuer || !slices.Contains(c.Audience, fuzzAudience) {
		t.Fatalf("accepted token with issuer %q audience %q", c.Issuer, c.Audience)
	}
	if c.TrialMode && c.TrialExpiresAt == nil {
		t.Fatal("accepted trial token without trial_expires_at")
	}
	if c.IsGovernor() && strings.TrimSpace(c.GovernorAgentID) == "" {
		t.Fatalf("governor_agent_id %q made a governor", c.GovernorAgentID)
	}
}

// checkAgainstPayload cross-checks accepted claims against the payload as plain
// encoding/json reads it: the time claims must be JSON numbers (RFC 7519
// NumericDate; a string one is a claim two parsers read differently), and
// the identity claims must be what the payload says.
func checkAgainstPayload(t *testing.T, payload string, c *Claims) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		t.Fatalf("accepted a payload encoding/json refuses: %v", err)
	}
	for _, name := range []string{"exp", "iat", "nbf"} {
		if v, ok := m[name]; ok && v != nil {
			if _, isNumber := v.(float64); !isNumber {
				t.Fatalf("accepted %s given as %T %v; a NumericDate is a JSON number", name, v, v)
			}
		}
	}
	for name, got := range map[string]string{"sub": c.Subject, "user_id": c.UserID, "email": c.Email, "customer_id": c.CustomerID} {
		want, _ := m[name].(string)
		if got != want {
			t.Fatalf("claim %s read as %q, the payload says %q", name, got, want)
		}
	}
}
