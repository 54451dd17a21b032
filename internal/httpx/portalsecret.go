package httpx

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// HeaderPortalSecret carries the portals' shared secret (PORTAL_SECRET) to the gateway: the
// proof that a request came through CP or PP, without which the gateway records it as direct
// whatever X-Gateway-Type says. Every proxy strips a client's copy (see
// DefaultUntrustedHeaderPrefixes), so the secret never travels past the gateway.
const HeaderPortalSecret = "X-Waooaw-Portal-Secret"

// minPortalSecretLen keeps a guessable secret out of the configuration.
const minPortalSecretLen = 16

// CheckPortalSecret validates a PORTAL_SECRET value; "" (no secret) is valid. The value is
// never repeated in the error: it is a secret.
func CheckPortalSecret(s string) error {
	if s == "" {
		return nil
	}
	if len(s) < minPortalSecretLen {
		return fmt.Errorf("PORTAL_SECRET must be at least %d characters long", minPortalSecretLen)
	}
	for i := 0; i < len(s); i++ {
		// Visible ASCII only: the value is sent as a header and must arrive byte for byte.
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("PORTAL_SECRET must be printable ASCII without spaces (character %d is not)", i+1)
		}
	}
	return nil
}

// PortalSecretMatches reports whether got is the configured secret want, in time that depends
// on neither value (both are hashed first, so not even their lengths leak). An empty want
// matches nothing.
func PortalSecretMatches(got, want string) bool {
	if want == "" || got == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
