package local

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waooaw/waooaw/internal/stack"
)

func testProject(t *testing.T) *stack.Project {
	t.Helper()
	p, err := stack.OpenProject("plan", func(k string) string {
		if k == "XDG_STATE_HOME" {
			return t.TempDir()
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeProgram puts an executable called name in dir.
func fakeProgram(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho 'postgres (PostgreSQL) 15.18'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestPlanWithoutPostgresSaysHowToInstallIt(t *testing.T) {
	empty := t.TempDir()
	getenv := func(k string) string {
		if k == "PATH" {
			return empty
		}
		return ""
	}
	_, err := newPlan(testProject(t), 0, "/bin/waooaw", getenv, nil)
	if !errors.Is(err, ErrPrerequisite) {
		t.Fatalf("err = %v, want ErrPrerequisite", err)
	}
	if !strings.Contains(err.Error(), "apt-get install postgresql") {
		t.Errorf("err = %q lacks the install hint", err)
	}
}

func TestPlanFindsRedisServerOnPathElseEmbedded(t *testing.T) {
	bin := t.TempDir()
	for _, p := range []string{"initdb", "postgres", "pg_ctl"} {
		fakeProgram(t, bin, p)
	}
	getenv := func(k string) string {
		if k == "PATH" {
			return bin
		}
		return ""
	}
	plan, err := newPlan(testProject(t), 100, "/bin/waooaw", getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.RedisServer != "" || !strings.Contains(plan.RedisProgram(), "embedded") {
		t.Errorf("without redis-server: RedisServer %q, program %q; want the embedded server", plan.RedisServer, plan.RedisProgram())
	}
	for _, c := range plan.PortClaims() {
		if c.Host != stack.Host || c.Port < 5532 {
			t.Errorf("claim %+v: want 127.0.0.1 and the offset applied", c)
		}
	}

	fakeProgram(t, bin, "redis-server")
	plan, err = newPlan(testProject(t), 0, "/bin/waooaw", getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.RedisServer != filepath.Join(bin, "redis-server") {
		t.Errorf("RedisServer = %q, want the one on PATH", plan.RedisServer)
	}
}
