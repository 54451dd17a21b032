package token

import (
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// ParseUnverified decodes a token's header and claims without checking its
// signature or any claim. It serves `waooaw token inspect` and diagnostics;
// never base an authorisation decision on its result.
func ParseUnverified(raw string) (header map[string]any, claims *Claims, err error) {
	claims = new(Claims)
	t, _, err := jwt.NewParser().ParseUnverified(raw, claims)
	if err != nil {
		return nil, nil, fmt.Errorf("decode token: %w", err)
	}
	return t.Header, claims, nil
}
