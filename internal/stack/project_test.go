package stack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOpenProjectResolvesNameAndDirectory(t *testing.T) {
	cases := []struct {
		name, flag string
		env        map[string]string
		wantDir    string
		wantErr    string
	}{
		{name: "default under XDG_STATE_HOME", env: map[string]string{"XDG_STATE_HOME": "/x"}, wantDir: "/x/waooaw/waooaw"},
		{name: "HOME fallback", env: map[string]string{"HOME": "/home/u"}, wantDir: "/home/u/.local/state/waooaw/waooaw"},
		{name: "relative XDG ignored", env: map[string]string{"XDG_STATE_HOME": "rel", "HOME": "/h"}, wantDir: "/h/.local/state/waooaw/waooaw"},
		{name: "flag wins", flag: "other", env: map[string]string{"XDG_STATE_HOME": "/x", "WAOOAW_PROJECT": "envp"}, wantDir: "/x/waooaw/other"},
		{name: "env project", env: map[string]string{"XDG_STATE_HOME": "/x", "WAOOAW_PROJECT": "envp"}, wantDir: "/x/waooaw/envp"},
		{name: "path traversal refused", flag: "../etc", env: map[string]string{"XDG_STATE_HOME": "/x"}, wantErr: "not valid"},
		{name: "upper case refused", flag: "Big", env: map[string]string{"XDG_STATE_HOME": "/x"}, wantErr: "not valid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := OpenProject(tc.flag, envOf(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Dir != tc.wantDir {
				t.Errorf("dir = %q, want %q", p.Dir, tc.wantDir)
			}
		})
	}
}

func TestEnsureKeyGeneratesOnceWithMode0600(t *testing.T) {
	p, err := OpenProject("keys", envOf(map[string]string{"XDG_STATE_HOME": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.LoadKey(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadKey before generation: %v, want not-exist", err)
	}
	// Concurrent first uses must agree on one key.
	kids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range kids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := p.EnsureKey()
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = k.KeyID()
		}()
	}
	wg.Wait()
	for _, kid := range kids {
		if kid != kids[0] {
			t.Fatalf("concurrent EnsureKey gave different keys: %v", kids)
		}
	}
	info, err := os.Stat(p.KeyPath())
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", info.Mode().Perm())
	}
	pub, err := os.ReadFile(p.PublicKeyPath())
	if err != nil || !strings.Contains(string(pub), "PUBLIC KEY") {
		t.Errorf("public key file: %v %q", err, pub)
	}
	again, err := p.EnsureKey()
	if err != nil || again.KeyID() != kids[0] {
		t.Errorf("second EnsureKey = %v, %v; want the same key", again, err)
	}
}

func TestStateRoundTripAndDamage(t *testing.T) {
	p, _ := OpenProject("st", envOf(map[string]string{"XDG_STATE_HOME": t.TempDir()}))
	if _, err := p.ReadState(); !errors.Is(err, ErrNoState) {
		t.Fatalf("ReadState on nothing = %v, want ErrNoState", err)
	}
	in := &State{Runtime: "local", PortOffset: 7, Supervisor: 42, Services: map[string]ServiceState{"cp": {PID: 9, Restarts: 2}}}
	if err := p.WriteState(in); err != nil {
		t.Fatal(err)
	}
	out, err := p.ReadState()
	if err != nil || out.PortOffset != 7 || out.Services["cp"].Restarts != 2 {
		t.Fatalf("ReadState = %+v, %v", out, err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, "state.json"), []byte("{garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ReadState(); err == nil || !strings.Contains(err.Error(), "waooaw down") {
		t.Errorf("damaged state: err = %v, want advice", err)
	}
	if err := p.RemoveState(); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveState(); err != nil {
		t.Errorf("second RemoveState: %v", err)
	}
}

func TestProjectsListsStateDirectories(t *testing.T) {
	env := envOf(map[string]string{"XDG_STATE_HOME": t.TempDir()})
	for _, n := range []string{"a", "b"} {
		p, _ := OpenProject(n, env)
		if err := os.MkdirAll(p.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := Projects(env)
	if err != nil || len(ps) != 2 || ps[0].Name != "a" || ps[1].Name != "b" {
		t.Fatalf("Projects = %v, %v", ps, err)
	}
}
