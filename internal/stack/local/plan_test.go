package local

import (
	"context"
	"errors"
	"log/slog"
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

// recorder is a program that writes its arguments, environment and standard input to files
// in dir, then exits.
func recorder(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + dir + "/args\nenv > " + dir + "/env\ncat > " + dir + "/stdin\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// runUnit launches the service's unit once and waits for the recorder to exit.
func runUnit(t *testing.T, plan *Plan, service string) {
	t.Helper()
	sup := &Supervisor{Plan: plan, Logger: slog.New(slog.DiscardHandler)}
	for _, svc := range plan.Services {
		if svc.Name != service {
			continue
		}
		u, err := sup.unitFor(svc)
		if err != nil {
			t.Fatal(err)
		}
		p, err := u.launch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		<-p.done
		if p.err != nil {
			t.Fatalf("%s: %v", service, p.err)
		}
		return
	}
	t.Fatalf("no service %s", service)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPlanHandsTheSecretsOverOutOfSight(t *testing.T) {
	bin, out := t.TempDir(), t.TempDir()
	for _, p := range []string{"initdb", "postgres", "pg_ctl"} {
		fakeProgram(t, bin, p)
	}
	getenv := func(k string) string {
		if k == "PATH" {
			return bin
		}
		return ""
	}
	project := testProject(t)
	plan, err := newPlan(project, 0, recorder(t, out, "waooaw"), getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The recorder needs env and cat.
	plan.Getenv = func(k string) string {
		if k == "PATH" {
			return "/usr/bin:/bin"
		}
		return ""
	}
	// The plan made the project's secrets, each 0600.
	for _, name := range []string{stack.SecretPostgresPassword, stack.SecretPostgresSuperuserPassword, stack.SecretRedisPassword, stack.SecretOPAToken} {
		info, err := os.Stat(project.SecretPath(name))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want a 0600 file", name, err, info.Mode().Perm())
		}
	}
	secrets := plan.Secrets
	noSecret := func(what, text string) {
		t.Helper()
		for _, v := range []string{secrets.OPAToken, secrets.RedisPassword, secrets.PostgresSuperuserPassword} {
			if strings.Contains(text, v) {
				t.Errorf("%s holds a secret:\n%s", what, text)
			}
		}
	}

	// OPA: the token's file, not the token.
	runUnit(t, plan, stack.OPA)
	env := readFile(t, filepath.Join(out, "env"))
	if !strings.Contains(env, "OPA_MANAGEMENT_TOKEN_FILE="+project.SecretPath(stack.SecretOPAToken)+"\n") {
		t.Errorf("opa's environment lacks OPA_MANAGEMENT_TOKEN_FILE:\n%s", env)
	}
	noSecret("opa's environment", env)

	// The embedded Redis: the password's file.
	runUnit(t, plan, stack.Redis)
	env = readFile(t, filepath.Join(out, "env"))
	if !strings.Contains(env, "REDIS_PASSWORD_FILE="+project.SecretPath(stack.SecretRedisPassword)+"\n") {
		t.Errorf("the embedded redis's environment lacks REDIS_PASSWORD_FILE:\n%s", env)
	}
	noSecret("the embedded redis's environment", env)

	// redis-server: the password on standard input, not in its arguments.
	plan.RedisServer = recorder(t, out, "redis-server")
	runUnit(t, plan, stack.Redis)
	args := readFile(t, filepath.Join(out, "args"))
	if !strings.HasPrefix(args, "-\n") {
		t.Errorf("redis-server's arguments do not start with - (configuration on stdin):\n%s", args)
	}
	noSecret("redis-server's arguments", args)
	noSecret("redis-server's environment", readFile(t, filepath.Join(out, "env")))
	if stdin := readFile(t, filepath.Join(out, "stdin")); stdin != "requirepass "+secrets.RedisPassword+"\n" {
		t.Errorf("redis-server read %q on stdin, want its requirepass", stdin)
	}
}
