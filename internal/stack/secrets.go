package stack

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// The project's secrets: random, made on first use (`waooaw up`), each in its own file of the
// project's directory, mode 0600. They are the credentials of the stack's own parts, so that
// another user of the machine cannot use the database, the counters or the policy engine.
const (
	// SecretPostgresPassword is the password of the application role (DatabaseUser) that the
	// services connect as.
	SecretPostgresPassword = "postgres-password"
	// SecretPostgresSuperuserPassword is the password of the cluster's bootstrap superuser
	// (DatabaseSuperuser); the services never use it.
	SecretPostgresSuperuserPassword = "postgres-superuser-password"
	// SecretRedisPassword is Redis's requirepass.
	SecretRedisPassword = "redis-password"
	// SecretOPAToken is the bearer token OPA's management API (policy and data writes, reads,
	// queries) requires; the gateway's decision queries need none.
	SecretOPAToken = "opa-management-token"
	// SecretPortal is what CP and PP show the gateway (X-Waooaw-Portal-Secret) so that it may
	// record which portal a request came through; a client that sends the header without it is
	// recorded as direct.
	SecretPortal = "portal-secret"
)

// secretBytes is the entropy of a generated secret: 256 bits, written as 64 hex digits, which
// need no escaping in a URL, a shell or a config file.
const secretBytes = 32

// Secrets are the project's secrets, as the stack's services need them.
type Secrets struct {
	PostgresPassword          string
	PostgresSuperuserPassword string
	RedisPassword             string
	OPAToken                  string
	PortalSecret              string
}

var secretNames = []string{SecretPostgresPassword, SecretPostgresSuperuserPassword, SecretRedisPassword, SecretOPAToken, SecretPortal}

func (s *Secrets) field(name string) *string {
	switch name {
	case SecretPostgresPassword:
		return &s.PostgresPassword
	case SecretPostgresSuperuserPassword:
		return &s.PostgresSuperuserPassword
	case SecretRedisPassword:
		return &s.RedisPassword
	case SecretOPAToken:
		return &s.OPAToken
	case SecretPortal:
		return &s.PortalSecret
	}
	panic("unknown secret " + name)
}

// SecretPath is the file that holds the project's secret called name.
func (p *Project) SecretPath(name string) string { return p.Path(name) }

// EnsureSecret returns the project's secret called name, generating it on first use. Two
// commands racing get the same secret.
func (p *Project) EnsureSecret(name string) (string, error) {
	v, err := p.ReadSecret(name)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return "", fmt.Errorf("create the project directory: %w", err)
	}
	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate the %s: %w", name, err)
	}
	if err := createExclusive(p.SecretPath(name), []byte(hex.EncodeToString(raw)+"\n")); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("write the %s: %w", name, err)
	}
	return p.ReadSecret(name)
}

// ReadSecret returns the project's secret called name; an error wrapping fs.ErrNotExist when
// it has not been made yet.
func (p *Project) ReadSecret(name string) (string, error) {
	data, err := os.ReadFile(p.SecretPath(name))
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return "", fmt.Errorf("%s is empty: delete it and run 'waooaw up' to make a new one", p.SecretPath(name))
	}
	return v, nil
}

// EnsureSecrets returns every secret of the project, generating those it lacks.
func (p *Project) EnsureSecrets() (Secrets, error) {
	var s Secrets
	for _, name := range secretNames {
		v, err := p.EnsureSecret(name)
		if err != nil {
			return Secrets{}, err
		}
		*s.field(name) = v
	}
	return s, nil
}

// Secrets returns the secrets the project has, making none: a missing one is empty. Commands
// that only look at a running stack (status, verify) use it.
func (p *Project) Secrets() (Secrets, error) {
	var s Secrets
	for _, name := range secretNames {
		v, err := p.ReadSecret(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Secrets{}, err
		}
		*s.field(name) = v
	}
	return s, nil
}
