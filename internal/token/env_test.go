package token

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func envFunc(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func publicPEM(t *testing.T, k *SigningKey) []byte {
	t.Helper()
	p, err := k.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func jwksOf(t *testing.T, k *SigningKey) []byte {
	t.Helper()
	doc, err := mustKeySet(t, k).JWKS()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestVerifierFromEnv(t *testing.T) {
	rsaKey, ecKey, edKey := mustGenerate(t, RS256), mustGenerate(t, ES256), mustGenerate(t, EdDSA)
	secret := "s3cret-s3cret-s3cret-s3cret-s3cret!"
	hsKey, err := NewSecretSigningKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := string(publicPEM(t, ecKey))

	tests := []struct {
		name string
		env  map[string]string
		key  *SigningKey
	}{
		{"RS256 by default, PEM file", map[string]string{"JWT_PUBLIC_KEY": writeFile(t, "rsa.pem", publicPEM(t, rsaKey))}, rsaKey},
		{"ES256 PEM text", map[string]string{"JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY": ecPEM}, ecKey},
		{"ES256 PEM on one line", map[string]string{"JWT_ALGORITHM": "es256", "JWT_PUBLIC_KEY": strings.ReplaceAll(ecPEM, "\n", `\n`)}, ecKey},
		{"EdDSA JWKS file", map[string]string{"JWT_ALGORITHM": "EdDSA", "JWT_JWKS_FILE": writeFile(t, "jwks.json", jwksOf(t, edKey))}, edKey},
		{"HS256 secret", map[string]string{"JWT_ALGORITHM": "HS256", "JWT_SECRET": secret}, hsKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, keys, err := VerifierFromEnv(envFunc(tt.env))
			if err != nil {
				t.Fatalf("VerifierFromEnv: %v", err)
			}
			if keys.Algorithm() != tt.key.Algorithm() {
				t.Errorf("key set algorithm = %s, want %s", keys.Algorithm(), tt.key.Algorithm())
			}
			// The verifier runs on the wall clock, so the token is minted on it.
			raw := mustSign(t, tt.key, NewClaims("u", "u@example.com", []string{RoleViewer}, time.Hour, time.Now()))
			if _, err := v.Verify(raw); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestVerifierFromEnvSettings(t *testing.T) {
	key := mustGenerate(t, EdDSA)
	v, _, err := VerifierFromEnv(envFunc(map[string]string{
		"JWT_ALGORITHM":    "EdDSA",
		"JWT_PUBLIC_KEY":   string(publicPEM(t, key)),
		"JWT_ISSUERS":      " waooaw.com, staging.waooaw.com ,,",
		"JWT_AUDIENCE":     "waooaw-api",
		"JWT_LEEWAY":       "30s",
		"JWT_MAX_LIFETIME": "1h",
	}))
	if err != nil {
		t.Fatalf("VerifierFromEnv: %v", err)
	}
	cfg := v.cfg
	if !slices.Equal(cfg.Issuers, []string{"waooaw.com", "staging.waooaw.com"}) || cfg.Audience != "waooaw-api" ||
		cfg.Leeway != 30*time.Second || cfg.MaxLifetime != time.Hour || cfg.MaxTokenBytes != DefaultMaxTokenBytes {
		t.Errorf("config = %+v", cfg)
	}

	v, _, err = VerifierFromEnv(envFunc(map[string]string{"JWT_ALGORITHM": "EdDSA", "JWT_PUBLIC_KEY": string(publicPEM(t, key))}))
	if err != nil {
		t.Fatalf("VerifierFromEnv: %v", err)
	}
	cfg = v.cfg
	if !slices.Equal(cfg.Issuers, []string{DefaultIssuer}) || cfg.Audience != "" || cfg.Leeway != 0 || cfg.MaxLifetime != 24*time.Hour {
		t.Errorf("default config = %+v", cfg)
	}
}

func TestVerifierFromEnvErrors(t *testing.T) {
	ecKey, edKey := mustGenerate(t, ES256), mustGenerate(t, EdDSA)
	ecPEM := string(publicPEM(t, ecKey))
	edPEM := string(publicPEM(t, edKey))
	missing := filepath.Join(t.TempDir(), "missing.pem")
	notPEM := writeFile(t, "not.pem", []byte("hello"))
	edJWKS := writeFile(t, "jwks.json", jwksOf(t, edKey))

	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"unknown algorithm", map[string]string{"JWT_ALGORITHM": "RS512"}, `JWT_ALGORITHM: unknown algorithm "RS512" (allowed: RS256, ES256, EdDSA, HS256)`},
		{"no key for RS256", map[string]string{}, "JWT_PUBLIC_KEY or JWT_JWKS_FILE must be set for JWT_ALGORITHM=RS256"},
		{"no key for ES256", map[string]string{"JWT_ALGORITHM": "ES256"}, "JWT_PUBLIC_KEY or JWT_JWKS_FILE must be set for JWT_ALGORITHM=ES256"},
		{"both key sources", map[string]string{"JWT_ALGORITHM": "EdDSA", "JWT_PUBLIC_KEY": edPEM, "JWT_JWKS_FILE": edJWKS}, "set only one of JWT_PUBLIC_KEY and JWT_JWKS_FILE"},
		{"EC key for RS256", map[string]string{"JWT_PUBLIC_KEY": ecPEM}, "JWT_PUBLIC_KEY (PEM text) for JWT_ALGORITHM=RS256: EC key does not fit algorithm RS256"},
		{"Ed25519 key for ES256", map[string]string{"JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY": edPEM}, "JWT_PUBLIC_KEY (PEM text) for JWT_ALGORITHM=ES256: Ed25519 key does not fit algorithm ES256"},
		{"unreadable key file", map[string]string{"JWT_PUBLIC_KEY": missing}, "JWT_PUBLIC_KEY is neither PEM text nor a readable file"},
		{"key file without PEM", map[string]string{"JWT_PUBLIC_KEY": notPEM}, "JWT_PUBLIC_KEY (" + notPEM + ") for JWT_ALGORITHM=RS256: no PEM public key found"},
		{"multi-line key without PEM", map[string]string{"JWT_PUBLIC_KEY": "abc\ndef"}, "JWT_PUBLIC_KEY holds neither PEM text"},
		{"unreadable JWKS file", map[string]string{"JWT_JWKS_FILE": missing}, "JWT_JWKS_FILE: open " + missing},
		{"JWKS of another algorithm", map[string]string{"JWT_ALGORITHM": "ES256", "JWT_JWKS_FILE": edJWKS}, "JWT_JWKS_FILE " + edJWKS + " for JWT_ALGORITHM=ES256: JWKS key 0"},
		{"no secret for HS256", map[string]string{"JWT_ALGORITHM": "HS256", "JWT_PUBLIC_KEY": edPEM}, "JWT_SECRET must be set for JWT_ALGORITHM=HS256"},
		{"short secret", map[string]string{"JWT_ALGORITHM": "HS256", "JWT_SECRET": "tooshort"}, "JWT_SECRET: HS256 secret must be at least 32 bytes, got 8"},
		{"bad leeway", map[string]string{"JWT_ALGORITHM": "EdDSA", "JWT_PUBLIC_KEY": edPEM, "JWT_LEEWAY": "soon"}, `JWT_LEEWAY: invalid duration "soon"`},
		{"negative leeway", map[string]string{"JWT_ALGORITHM": "EdDSA", "JWT_PUBLIC_KEY": edPEM, "JWT_LEEWAY": "-5s"}, "JWT_LEEWAY must not be negative"},
		{"lifetime without unit", map[string]string{"JWT_ALGORITHM": "EdDSA", "JWT_PUBLIC_KEY": edPEM, "JWT_MAX_LIFETIME": "24"}, `JWT_MAX_LIFETIME: invalid duration "24"`},
		{"zero lifetime", map[string]string{"JWT_ALGORITHM": "EdDSA", "JWT_PUBLIC_KEY": edPEM, "JWT_MAX_LIFETIME": "0s"}, "JWT_MAX_LIFETIME must be greater than 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, keys, err := VerifierFromEnv(envFunc(tt.env))
			if err == nil {
				t.Fatalf("VerifierFromEnv succeeded, want %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
			if v != nil || keys != nil {
				t.Error("VerifierFromEnv returned a verifier with an error")
			}
			if secret := tt.env["JWT_SECRET"]; secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("error %q leaks JWT_SECRET", err)
			}
		})
	}
}
