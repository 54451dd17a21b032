package token

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Environment variables read by [VerifierFromEnv] (SPEC §4).
const (
	EnvAlgorithm   = "JWT_ALGORITHM"
	EnvPublicKey   = "JWT_PUBLIC_KEY"
	EnvJWKSFile    = "JWT_JWKS_FILE"
	EnvSecret      = "JWT_SECRET"
	EnvIssuers     = "JWT_ISSUERS"
	EnvAudience    = "JWT_AUDIENCE"
	EnvLeeway      = "JWT_LEEWAY"
	EnvMaxLifetime = "JWT_MAX_LIFETIME"
)

// VerifierFromEnv builds the verifier of a service from its environment:
// JWT_ALGORITHM (default RS256); the key material, JWT_PUBLIC_KEY (PEM text
// or the path of a PEM file) or JWT_JWKS_FILE (path) for RS256, ES256 and
// EdDSA, JWT_SECRET for HS256; JWT_ISSUERS (comma-separated, default
// waooaw.com); JWT_AUDIENCE; JWT_LEEWAY (Go duration, default 0s);
// JWT_MAX_LIFETIME (default 24h). It returns the key set too, for serving
// /.well-known/jwks.json. Every error names the variable to fix.
func VerifierFromEnv(getenv func(string) string) (*Verifier, *KeySet, error) {
	alg, err := ParseAlgorithm(strings.TrimSpace(getenv(EnvAlgorithm)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", EnvAlgorithm, err)
	}
	keys, err := keySetFromEnv(alg, getenv)
	if err != nil {
		return nil, nil, err
	}
	cfg := VerifierConfig{
		Issuers:  splitList(getenv(EnvIssuers)),
		Audience: strings.TrimSpace(getenv(EnvAudience)),
	}
	if cfg.Leeway, err = durationFromEnv(getenv, EnvLeeway, 0); err != nil {
		return nil, nil, err
	}
	if cfg.MaxLifetime, err = durationFromEnv(getenv, EnvMaxLifetime, DefaultMaxLifetime); err != nil {
		return nil, nil, err
	}
	if cfg.MaxLifetime == 0 {
		return nil, nil, fmt.Errorf("%s must be greater than 0", EnvMaxLifetime)
	}
	v, err := NewVerifier(cfg, keys)
	if err != nil {
		return nil, nil, err
	}
	return v, keys, nil
}

func keySetFromEnv(alg Algorithm, getenv func(string) string) (*KeySet, error) {
	if alg == HS256 {
		secret := getenv(EnvSecret)
		if secret == "" {
			return nil, fmt.Errorf("%s must be set for %s=%s", EnvSecret, EnvAlgorithm, alg)
		}
		keys, err := NewSecretKeySet([]byte(secret))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvSecret, err)
		}
		return keys, nil
	}

	publicKey := strings.TrimSpace(getenv(EnvPublicKey))
	jwksFile := strings.TrimSpace(getenv(EnvJWKSFile))
	switch {
	case publicKey == "" && jwksFile == "":
		return nil, fmt.Errorf("%s or %s must be set for %s=%s", EnvPublicKey, EnvJWKSFile, EnvAlgorithm, alg)
	case publicKey != "" && jwksFile != "":
		return nil, fmt.Errorf("set only one of %s and %s", EnvPublicKey, EnvJWKSFile)
	case jwksFile != "":
		data, err := os.ReadFile(jwksFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvJWKSFile, err)
		}
		keys, err := ParseJWKS(alg, data)
		if err != nil {
			return nil, fmt.Errorf("%s %s for %s=%s: %w", EnvJWKSFile, jwksFile, EnvAlgorithm, alg, err)
		}
		return keys, nil
	}

	pemText, source := []byte(publicKey), "PEM text"
	if !strings.Contains(publicKey, "-----BEGIN") {
		if strings.Contains(publicKey, "\n") || len(publicKey) > 1024 {
			// Too long or multi-line for a path: do not echo it back.
			return nil, fmt.Errorf("%s holds neither PEM text (no -----BEGIN line) nor a file path", EnvPublicKey)
		}
		data, err := os.ReadFile(publicKey)
		if err != nil {
			return nil, fmt.Errorf("%s is neither PEM text nor a readable file: %w", EnvPublicKey, err)
		}
		pemText, source = data, publicKey
	} else if !strings.Contains(publicKey, "\n") {
		// Env files and CI secrets often carry the PEM on one line with
		// literal \n escapes.
		pemText = []byte(strings.ReplaceAll(publicKey, `\n`, "\n"))
	}
	keys, err := ParsePublicKeyPEM(alg, pemText)
	if err != nil {
		return nil, fmt.Errorf("%s (%s) for %s=%s: %w", EnvPublicKey, source, EnvAlgorithm, alg, err)
	}
	return keys, nil
}

func durationFromEnv(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: invalid duration %s (want e.g. 30s, 24h)", name, quoteShort(s))
	}
	if d < 0 {
		return 0, fmt.Errorf("%s must not be negative, got %s", name, s)
	}
	return d, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}
