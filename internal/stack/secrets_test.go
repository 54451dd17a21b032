package stack

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
)

func TestEnsureSecretsMakesEachOnceWithMode0600(t *testing.T) {
	p, err := OpenProject("secrets", envOf(map[string]string{"XDG_STATE_HOME": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := p.Secrets(); err != nil || s != (Secrets{}) {
		t.Fatalf("Secrets before any up: %+v, %v; want none and no error", s, err)
	}
	if _, err := p.ReadSecret(SecretRedisPassword); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadSecret before any up: %v, want not-exist", err)
	}

	// Concurrent first uses (up and a status racing) must agree.
	got := make([]Secrets, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			s, err := p.EnsureSecrets()
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	first := got[0]
	for _, s := range got[1:] {
		if s != first {
			t.Fatalf("concurrent EnsureSecrets disagree: %+v vs %+v", s, first)
		}
	}
	values := map[string]bool{}
	for _, name := range secretNames {
		v := *first.field(name)
		if len(v) != 2*secretBytes || strings.Trim(v, "0123456789abcdef") != "" {
			t.Errorf("%s = %q, want %d hex digits", name, v, 2*secretBytes)
		}
		values[v] = true
		info, err := os.Stat(p.SecretPath(name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p.SecretPath(name), info.Mode().Perm())
		}
	}
	if len(values) != len(secretNames) {
		t.Errorf("the secrets are not distinct: %+v", first)
	}
	entries, _ := os.ReadDir(p.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}

	// Kept: a later up reads the same ones.
	if again, err := p.EnsureSecrets(); err != nil || again != first {
		t.Errorf("EnsureSecrets again = %+v, %v; want the same secrets", again, err)
	}
	if read, err := p.Secrets(); err != nil || read != first {
		t.Errorf("Secrets = %+v, %v; want the made ones", read, err)
	}

	if err := os.WriteFile(p.SecretPath(SecretOPAToken), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Secrets(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("an emptied secret file: %v, want an error saying so", err)
	}
}

func TestServiceURLsCarryAndMaskThePasswords(t *testing.T) {
	svcs, err := Services(Config{PortOffset: 100, PublicKey: "/k.pem", Secrets: Secrets{
		PostgresPassword: "pg-pw", RedisPassword: "redis-pw", OPAToken: "opa-token", PostgresSuperuserPassword: "super-pw",
		PortalSecret: "portal-secret-value",
	}})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Service{}
	for _, s := range svcs {
		byName[s.Name] = s
	}
	tests := []struct {
		service, url, display string
	}{
		{Postgres, "postgres://waooaw:pg-pw@127.0.0.1:5532/waooaw", "postgres://waooaw:****@127.0.0.1:5532/waooaw"},
		{Redis, "redis://:redis-pw@127.0.0.1:6479", "redis://:****@127.0.0.1:6479"},
		{OPA, "http://127.0.0.1:8281", "http://127.0.0.1:8281"},
	}
	for _, tt := range tests {
		s := byName[tt.service]
		if s.URL() != tt.url || s.DisplayURL() != tt.display {
			t.Errorf("%s: URL %q, DisplayURL %q; want %q, %q", tt.service, s.URL(), s.DisplayURL(), tt.url, tt.display)
		}
	}
	gw := byName[Gateway].Env
	if gw["DATABASE_URL"] != "postgres://waooaw:pg-pw@127.0.0.1:5532/waooaw?sslmode=disable" || gw["REDIS_URL"] != "redis://:redis-pw@127.0.0.1:6479" {
		t.Errorf("gateway DATABASE_URL %q, REDIS_URL %q", gw["DATABASE_URL"], gw["REDIS_URL"])
	}
	if byName[Backend].Env["DATABASE_URL"] != gw["DATABASE_URL"] {
		t.Errorf("backend DATABASE_URL %q", byName[Backend].Env["DATABASE_URL"])
	}
	// Neither the superuser's password nor OPA's token is any service's business.
	for _, s := range svcs {
		for k, v := range s.Env {
			if strings.Contains(v, "super-pw") || strings.Contains(v, "opa-token") {
				t.Errorf("%s's %s carries a secret it does not need", s.Name, k)
			}
		}
	}
	// The portal secret goes to the gateway and the two portals, and to nobody else.
	for _, s := range svcs {
		want := s.Name == Gateway || s.Name == CP || s.Name == PP
		if got := s.Env["PORTAL_SECRET"] == "portal-secret-value"; got != want {
			t.Errorf("%s has PORTAL_SECRET: %t, want %t", s.Name, got, want)
		}
	}
	if p, ok := byName[Redis].Probe.(RedisProbe); !ok || p.Password != "redis-pw" {
		t.Errorf("redis probe %+v, want one that AUTHs", byName[Redis].Probe)
	}
}
