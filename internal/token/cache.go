package token

import (
	"maps"
	"slices"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultCacheSize is how many verified tokens a [Verifier] remembers unless
// configured otherwise.
const DefaultCacheSize = 1024

// verifiedCache remembers the claims of tokens whose signature and claims
// were valid, keyed by the exact token text, so that a client sending the
// same token on every request pays for the signature check once (like
// Envoy's jwt_authn cache). The key set of a Verifier never changes, so an
// entry stays valid for its signature; the time-dependent rules are checked
// again on every hit. Rejected tokens are never cached.
type verifiedCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*Claims
}

func newVerifiedCache(size int) *verifiedCache {
	if size <= 0 {
		return nil
	}
	return &verifiedCache{max: size, entries: make(map[string]*Claims, min(size, 64))}
}

// get returns the cached claims of raw; the caller must not modify them.
func (vc *verifiedCache) get(raw string) (*Claims, bool) {
	if vc == nil {
		return nil, false
	}
	vc.mu.Lock()
	defer vc.mu.Unlock()
	c, ok := vc.entries[raw]
	return c, ok
}

func (vc *verifiedCache) put(raw string, c *Claims) {
	if vc == nil {
		return
	}
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if len(vc.entries) >= vc.max {
		// Evict an arbitrary entry: map order is random, which is good
		// enough for a cache that only saves CPU.
		for k := range vc.entries {
			delete(vc.entries, k)
			break
		}
	}
	vc.entries[raw] = c
}

func (vc *verifiedCache) remove(raw string) {
	if vc == nil {
		return
	}
	vc.mu.Lock()
	defer vc.mu.Unlock()
	delete(vc.entries, raw)
}

func (vc *verifiedCache) len() int {
	if vc == nil {
		return 0
	}
	vc.mu.Lock()
	defer vc.mu.Unlock()
	return len(vc.entries)
}

// clone copies c deeply enough that a caller changing the copy's fields,
// roles, audience or top-level extra claims cannot change the cached entry.
func (c *Claims) clone() *Claims {
	d := *c
	d.Roles = slices.Clone(c.Roles)
	d.Audience = slices.Clone(c.Audience)
	d.Extra = maps.Clone(c.Extra)
	if c.TrialExpiresAt != nil {
		t := *c.TrialExpiresAt
		d.TrialExpiresAt = &t
	}
	for _, date := range []**jwt.NumericDate{&d.IssuedAt, &d.ExpiresAt, &d.NotBefore} {
		if *date != nil {
			copied := **date
			*date = &copied
		}
	}
	return &d
}
