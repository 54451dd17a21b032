package token

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of [VerifierConfig].
const (
	DefaultMaxLifetime   = 24 * time.Hour
	DefaultMaxTokenBytes = 8192
)

// ErrExpired is returned by [Verifier.Verify] for a token whose signature and
// claims are valid but whose exp has passed, so callers can tell the user to
// log in again instead of reporting an invalid token.
var ErrExpired = errors.New("token has expired")

// InvalidError is returned by [Verifier.Verify] for every rejection other
// than expiry. Reason is short, human, and never contains the token or key
// material, so it may be shown to the caller.
type InvalidError struct {
	Reason string
}

func (e *InvalidError) Error() string { return e.Reason }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// VerifierConfig holds the verification rules of SPEC §4.2. The zero value
// means: issuer waooaw.com, no audience check, no leeway, lifetime at most
// 24h, tokens at most 8192 bytes, the wall clock, and a cache of 1024
// verified tokens.
type VerifierConfig struct {
	Issuers       []string         // accepted iss values; empty means [DefaultIssuer]
	Audience      string           // when set, aud must contain it
	Leeway        time.Duration    // clock skew allowed on exp, nbf and iat
	MaxLifetime   time.Duration    // limit on exp-iat; 0 means [DefaultMaxLifetime]
	MaxTokenBytes int              // 0 means [DefaultMaxTokenBytes]
	Now           func() time.Time // nil means time.Now

	// CacheSize bounds how many verified tokens are remembered, so a repeat
	// token skips the signature check (its time rules are still checked).
	// 0 means [DefaultCacheSize]; negative turns the cache off.
	CacheSize int
}

// Verifier checks WAOOAW tokens against one key set. It is safe for
// concurrent use.
type Verifier struct {
	cfg    VerifierConfig
	keys   *KeySet
	parser *jwt.Parser
	cache  *verifiedCache // nil when off
}

// NewVerifier returns a verifier for keys, with cfg's zero fields set to
// their defaults.
func NewVerifier(cfg VerifierConfig, keys *KeySet) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("new verifier: no key set")
	}
	if len(cfg.Issuers) == 0 {
		cfg.Issuers = []string{DefaultIssuer}
	}
	cfg.Issuers = slices.Clone(cfg.Issuers)
	if slices.Contains(cfg.Issuers, "") {
		return nil, errors.New("new verifier: empty issuer")
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("new verifier: negative leeway %s", cfg.Leeway)
	}
	switch {
	case cfg.MaxLifetime == 0:
		cfg.MaxLifetime = DefaultMaxLifetime
	case cfg.MaxLifetime < 0:
		return nil, fmt.Errorf("new verifier: negative max lifetime %s", cfg.MaxLifetime)
	}
	switch {
	case cfg.MaxTokenBytes == 0:
		cfg.MaxTokenBytes = DefaultMaxTokenBytes
	case cfg.MaxTokenBytes < 0:
		return nil, fmt.Errorf("new verifier: negative max token size %d", cfg.MaxTokenBytes)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	parser := jwt.NewParser(
		// Exactly the configured algorithm: this is what stops alg "none" and
		// HS256 tokens signed with the RSA public key as the HMAC secret.
		jwt.WithValidMethods([]string{string(keys.alg)}),
		// Claims are checked by checkClaims, which knows the WAOOAW rules
		// and gives reasons fit to show a caller.
		jwt.WithoutClaimsValidation(),
		jwt.WithStrictDecoding(),
	)
	return &Verifier{cfg: cfg, keys: keys, parser: parser, cache: newVerifiedCache(cfg.CacheSize)}, nil
}

// Verify checks the signature and claims of a compact JWS and returns its
// claims, a copy the caller owns (nested values inside Extra excepted). An
// expired token yields an error matching [ErrExpired]; any other failure an
// [*InvalidError].
func (v *Verifier) Verify(raw string) (*Claims, error) {
	// Size first, so that no attacker-sized input is hashed or decoded.
	if len(raw) > v.cfg.MaxTokenBytes {
		return nil, invalid("token is larger than %d bytes", v.cfg.MaxTokenBytes)
	}
	if c, ok := v.cache.get(raw); ok {
		if err := v.checkClaims(c); err != nil {
			v.cache.remove(raw)
			return nil, err
		}
		return c.clone(), nil
	}
	if !isCompactJWS(raw) {
		return nil, invalid("token is malformed: want three base64url segments")
	}
	var c Claims
	t, err := v.parser.ParseWithClaims(raw, &c, v.keyFor)
	if err != nil {
		return nil, v.parseError(t, err)
	}
	if err := v.checkClaims(&c); err != nil {
		return nil, err
	}
	v.cache.put(raw, c.clone())
	return &c, nil
}

// keyFor is the jwt.Keyfunc: it selects the key by the header's kid.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: extensions we do not understand must be refused.
		return nil, invalid("unsupported critical header parameters")
	}
	raw, hasKid := t.Header["kid"]
	kid, ok := raw.(string)
	if hasKid && !ok {
		return nil, invalid("key id (kid) must be a string")
	}
	return v.keys.key(kid, hasKid)
}

// parseError turns a golang-jwt error into an [*InvalidError].
func (v *Verifier) parseError(t *jwt.Token, err error) error {
	if t != nil && t.Header != nil {
		alg, _ := t.Header["alg"].(string)
		if alg == "" {
			return invalid("missing signing method (alg)")
		}
		if alg != string(v.keys.alg) {
			return invalid("unexpected signing method %s", algName(alg))
		}
	}
	var inv *InvalidError
	switch {
	case errors.As(err, &inv):
		return inv
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid("signature is invalid")
	}
	return invalid("token is malformed")
}

// checkClaims applies the claim rules of SPEC §4.2. Expiry is checked last,
// so an expired token reports ErrExpired only when nothing else is wrong: a
// forged or misissued token must never be told to just log in again.
func (v *Verifier) checkClaims(c *Claims) error {
	for _, claim := range []struct{ name, value string }{
		{claimSubject, c.Subject},
		{claimUserID, c.UserID},
		{claimEmail, c.Email},
	} {
		if claim.value == "" {
			return invalid("missing required claim %q", claim.name)
		}
	}
	// Identity claims travel on as header values, log fields and audit
	// columns: a control character there splits a header or forges a line.
	for _, claim := range []struct{ name, value string }{
		{claimSubject, c.Subject},
		{claimUserID, c.UserID},
		{claimEmail, c.Email},
		{claimCustomerID, c.CustomerID},
		{claimGovernorAgentID, c.GovernorAgentID},
		{claimAgentID, c.AgentID},
		{claimIssuer, c.Issuer},
	} {
		if !printable(claim.value) {
			return invalid("claim %q holds control characters or invalid UTF-8", claim.name)
		}
	}
	if c.Roles == nil {
		return invalid("missing required claim %q", claimRoles)
	}
	if err := CheckRoles(c.Roles); err != nil {
		return err
	}
	if c.IssuedAt == nil {
		return invalid("missing required claim %q", claimIssuedAt)
	}
	if c.ExpiresAt == nil {
		return invalid("missing required claim %q", claimExpiresAt)
	}
	if c.Issuer == "" {
		return invalid("missing required claim %q", claimIssuer)
	}
	if !slices.Contains(v.cfg.Issuers, c.Issuer) {
		return invalid("issuer %s is not accepted", quoteShort(c.Issuer))
	}
	if v.cfg.Audience != "" && !slices.Contains(c.Audience, v.cfg.Audience) {
		return invalid("token audience does not include %q", v.cfg.Audience)
	}
	if c.TrialMode && c.TrialExpiresAt == nil {
		return invalid("trial_mode requires trial_expires_at")
	}
	iat, exp := c.IssuedAt.Time, c.ExpiresAt.Time
	if exp.Before(iat) {
		return invalid("token expires before it was issued")
	}
	if exp.Sub(iat) > v.cfg.MaxLifetime {
		return invalid("token lifetime exceeds %s", v.cfg.MaxLifetime)
	}
	now := v.cfg.Now()
	if iat.After(now.Add(v.cfg.Leeway)) {
		return invalid("token used before issued")
	}
	if c.NotBefore != nil && c.NotBefore.After(now.Add(v.cfg.Leeway)) {
		return invalid("token is not valid yet")
	}
	if !now.Before(exp.Add(v.cfg.Leeway)) {
		return ErrExpired
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// isCompactJWS reports whether s is three base64url segments separated by
// dots, the header and payload non-empty (the signature may be empty, so that
// an alg "none" token is reported as such).
func isCompactJWS(s string) bool {
	dots := 0
	segment := 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '.':
			if segment == 0 || dots == 2 {
				return false
			}
			dots++
			segment = 0
		case 'A' <= ch && ch <= 'Z', 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9', ch == '-', ch == '_':
			segment++
		default:
			return false
		}
	}
	return dots == 2
}

// maxQuoted bounds attacker-chosen text echoed in reasons.
const maxQuoted = 40

// quoteShort quotes s for a message, cut to a bounded length.
func quoteShort(s string) string {
	return strconv.Quote(shortText(s))
}

// algName returns a header alg for a message: bare when it looks like an
// algorithm name ("none", "HS256"), else quoted and cut.
func algName(alg string) string {
	if len(alg) > 16 {
		return quoteShort(alg)
	}
	for _, ch := range alg {
		if !('A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9') {
			return quoteShort(alg)
		}
	}
	return alg
}

// shortText cuts s to a bounded length on a rune boundary.
func shortText(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
