package token

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultIssuer is the issuer of tokens minted by waooaw and the only issuer a
// verifier accepts unless configured otherwise.
const DefaultIssuer = "waooaw.com"

// Claims of a WAOOAW token (SPEC §4.2). Claims implements [jwt.Claims]; its
// JSON form uses the claim names of the spec (sub, user_id, email, roles,
// customer_id, governor_agent_id, agent_id, trial_mode, trial_expires_at,
// iss, aud, iat, exp, nbf, jti), with trial_expires_at as an RFC 3339 string.
type Claims struct {
	Subject         string
	UserID          string
	Email           string
	Roles           []string
	CustomerID      string
	GovernorAgentID string
	AgentID         string
	TrialMode       bool
	TrialExpiresAt  *time.Time
	Issuer          string
	Audience        jwt.ClaimStrings
	IssuedAt        *jwt.NumericDate
	ExpiresAt       *jwt.NumericDate
	NotBefore       *jwt.NumericDate
	ID              string

	// Extra holds any other claims, e.g. from `waooaw token mint --claim k=v`.
	// They are written at the top level of the payload; an entry named like
	// one of the fields above (see [IsReservedClaim]) is never written, so
	// Extra cannot override a named claim.
	Extra map[string]any
}

var _ jwt.Claims = (*Claims)(nil)

// Claim names that map onto Claims fields.
const (
	claimSubject         = "sub"
	claimUserID          = "user_id"
	claimEmail           = "email"
	claimRoles           = "roles"
	claimCustomerID      = "customer_id"
	claimGovernorAgentID = "governor_agent_id"
	claimAgentID         = "agent_id"
	claimTrialMode       = "trial_mode"
	claimTrialExpiresAt  = "trial_expires_at"
	claimIssuer          = "iss"
	claimAudience        = "aud"
	claimIssuedAt        = "iat"
	claimExpiresAt       = "exp"
	claimNotBefore       = "nbf"
	claimID              = "jti"
)

// IsReservedClaim reports whether name is one of the named claims of
// [Claims], which an entry in Claims.Extra can never set.
func IsReservedClaim(name string) bool {
	switch name {
	case claimSubject, claimUserID, claimEmail, claimRoles, claimCustomerID,
		claimGovernorAgentID, claimAgentID, claimTrialMode, claimTrialExpiresAt,
		claimIssuer, claimAudience, claimIssuedAt, claimExpiresAt, claimNotBefore, claimID:
		return true
	}
	return false
}

// NewClaims returns claims with sensible defaults for minting: issuer
// [DefaultIssuer], issued at now, expiring at now+ttl, a random jti, and
// user_id equal to sub. Callers set the optional claims on the result.
func NewClaims(sub, email string, roles []string, ttl time.Duration, now time.Time) *Claims {
	return &Claims{
		Subject:   sub,
		UserID:    sub,
		Email:     email,
		Roles:     append([]string(nil), roles...),
		Issuer:    DefaultIssuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		ID:        rand.Text(),
	}
}

// GetExpirationTime implements [jwt.Claims].
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }

// GetIssuedAt implements [jwt.Claims].
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) { return c.IssuedAt, nil }

// GetNotBefore implements [jwt.Claims].
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) { return c.NotBefore, nil }

// GetIssuer implements [jwt.Claims].
func (c *Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements [jwt.Claims].
func (c *Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements [jwt.Claims].
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return c.Audience, nil }

// MarshalJSON writes the token payload. Empty optional claims are left out;
// Roles is written whenever it is non-nil, so an empty list stays visible.
// It has a value receiver so that both Claims and *Claims marshal this way.
func (c Claims) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(c.Extra)+15)
	for k, v := range c.Extra {
		if !IsReservedClaim(k) {
			m[k] = v
		}
	}
	putString := func(name, value string) {
		if value != "" {
			m[name] = value
		}
	}
	putDate := func(name string, value *jwt.NumericDate) {
		if value != nil {
			m[name] = value
		}
	}
	putString(claimSubject, c.Subject)
	putString(claimUserID, c.UserID)
	putString(claimEmail, c.Email)
	if c.Roles != nil {
		m[claimRoles] = c.Roles
	}
	putString(claimCustomerID, c.CustomerID)
	putString(claimGovernorAgentID, c.GovernorAgentID)
	putString(claimAgentID, c.AgentID)
	if c.TrialMode {
		m[claimTrialMode] = true
	}
	if c.TrialExpiresAt != nil {
		m[claimTrialExpiresAt] = c.TrialExpiresAt.UTC().Format(time.RFC3339)
	}
	putString(claimIssuer, c.Issuer)
	if len(c.Audience) > 0 {
		m[claimAudience] = c.Audience
	}
	putDate(claimIssuedAt, c.IssuedAt)
	putDate(claimExpiresAt, c.ExpiresAt)
	putDate(claimNotBefore, c.NotBefore)
	putString(claimID, c.ID)
	return json.Marshal(m)
}

// UnmarshalJSON reads a token payload. A null claim counts as absent. A named
// claim of the wrong JSON type is an [*InvalidError] naming the claim.
func (c *Claims) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*c = Claims{}
	for name, value := range raw {
		if string(value) == "null" {
			continue
		}
		if err := c.setClaim(name, value); err != nil {
			return &InvalidError{Reason: fmt.Sprintf("claim %s has the wrong type", quoteShort(name))}
		}
	}
	return nil
}

func (c *Claims) setClaim(name string, value json.RawMessage) error {
	switch name {
	case claimSubject:
		return unmarshalString(value, &c.Subject)
	case claimUserID:
		return unmarshalString(value, &c.UserID)
	case claimEmail:
		return unmarshalString(value, &c.Email)
	case claimRoles:
		return json.Unmarshal(value, &c.Roles)
	case claimCustomerID:
		return unmarshalString(value, &c.CustomerID)
	case claimGovernorAgentID:
		return unmarshalString(value, &c.GovernorAgentID)
	case claimAgentID:
		return unmarshalString(value, &c.AgentID)
	case claimTrialMode:
		return json.Unmarshal(value, &c.TrialMode)
	case claimTrialExpiresAt:
		var s string
		if err := unmarshalString(value, &s); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return err
		}
		t = t.UTC()
		c.TrialExpiresAt = &t
		return nil
	case claimIssuer:
		return unmarshalString(value, &c.Issuer)
	case claimAudience:
		return json.Unmarshal(value, &c.Audience)
	case claimIssuedAt:
		return unmarshalDate(value, &c.IssuedAt)
	case claimExpiresAt:
		return unmarshalDate(value, &c.ExpiresAt)
	case claimNotBefore:
		return unmarshalDate(value, &c.NotBefore)
	case claimID:
		return unmarshalString(value, &c.ID)
	}
	var v any
	if err := json.Unmarshal(value, &v); err != nil {
		return err
	}
	if c.Extra == nil {
		c.Extra = make(map[string]any)
	}
	c.Extra[name] = v
	return nil
}

// unmarshalString decodes a JSON string. Verification decodes every token,
// so the common case, a valid UTF-8 string without escapes, skips the
// reflective decoder; value is already known to be valid JSON.
func unmarshalString(value json.RawMessage, s *string) error {
	if n := len(value); n >= 2 && value[0] == '"' && value[n-1] == '"' &&
		bytes.IndexByte(value, '\\') < 0 && utf8.Valid(value) {
		*s = string(value[1 : n-1])
		return nil
	}
	return json.Unmarshal(value, s)
}

// unmarshalDate decodes a NumericDate in UTC, so that decoded claims print
// the same whatever the machine's time zone. Whole seconds, the usual form,
// skip the reflective decoder.
func unmarshalDate(value json.RawMessage, date **jwt.NumericDate) error {
	if len(value) > 0 && value[0] == '"' {
		// RFC 7519 §2: a NumericDate is a JSON number. jwt.NumericDate would
		// read "1700000000" too, and a claim two parsers read differently is
		// a claim to refuse.
		return errors.New("NumericDate must be a number")
	}
	if secs, err := strconv.ParseInt(string(value), 10, 64); err == nil {
		*date = jwt.NewNumericDate(time.Unix(secs, 0).UTC())
		return nil
	}
	d := new(jwt.NumericDate)
	if err := json.Unmarshal(value, d); err != nil {
		return err
	}
	d.Time = d.UTC()
	*date = d
	return nil
}
