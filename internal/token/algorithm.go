package token

import (
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithm is a JWS signing algorithm a WAOOAW deployment may be configured
// with. A verifier accepts exactly one.
type Algorithm string

// The supported algorithms. RS256 is the default.
const (
	RS256 Algorithm = "RS256"
	ES256 Algorithm = "ES256"
	EdDSA Algorithm = "EdDSA"
	HS256 Algorithm = "HS256"
)

// allowedAlgorithms lists the supported algorithms for error messages.
const allowedAlgorithms = "RS256, ES256, EdDSA, HS256"

// ParseAlgorithm returns the algorithm named by s, matched case-insensitively
// because it comes from configuration. An empty s means RS256.
func ParseAlgorithm(s string) (Algorithm, error) {
	if s == "" {
		return RS256, nil
	}
	for _, a := range []Algorithm{RS256, ES256, EdDSA, HS256} {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("unknown algorithm %s (allowed: %s)", quoteShort(s), allowedAlgorithms)
}

// String returns the algorithm's JWS name.
func (a Algorithm) String() string { return string(a) }

// method is the golang-jwt signing method of a, or nil for an unsupported a.
func (a Algorithm) method() jwt.SigningMethod {
	switch a {
	case RS256:
		return jwt.SigningMethodRS256
	case ES256:
		return jwt.SigningMethodES256
	case EdDSA:
		return jwt.SigningMethodEdDSA
	case HS256:
		return jwt.SigningMethodHS256
	}
	return nil
}

// check reports an error unless a is one of the supported constants.
func (a Algorithm) check() error {
	if a.method() == nil {
		return fmt.Errorf("unsupported algorithm %s (allowed: %s)", quoteShort(string(a)), allowedAlgorithms)
	}
	return nil
}
