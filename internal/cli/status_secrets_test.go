package cli

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/stack"
)

// TestStatusShowsThePasswordsOnlyInEnvOutput runs status against a recorded local stack whose
// services do not answer: the URLs it prints carry the project's passwords in -o env (for
// eval) and mask them in text and JSON (which end up in logs and tickets).
func TestStatusShowsThePasswordsOnlyInEnvOutput(t *testing.T) {
	vars := map[string]string{"XDG_STATE_HOME": t.TempDir(), "WAOOAW_PROJECT": "masked"}
	project, err := stack.OpenProject("", func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := project.EnsureSecrets()
	if err != nil {
		t.Fatal(err)
	}
	// A stand-in supervisor: a live process whose command line says "supervise".
	sup := exec.Command("sh", "-c", "sleep 600", "supervise")
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sup.Process.Kill(); sup.Wait() })
	// Ports nobody uses, so every probe fails at once.
	if err := project.WriteState(&stack.State{Runtime: "local", PortOffset: 31234, StartedAt: time.Now(), Supervisor: sup.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	hidden := []string{secrets.PostgresPassword, secrets.RedisPassword, secrets.OPAToken, secrets.PostgresSuperuserPassword}

	for _, format := range []string{"text", "json"} {
		code, stdout, stderr := run(t, vars, "status", "-o", format)
		if code != exitFailed {
			t.Fatalf("status -o %s of a stack that does not answer: exit %d, want %d\n%s", format, code, exitFailed, stderr)
		}
		for _, s := range hidden {
			if strings.Contains(stdout+stderr, s) {
				t.Errorf("status -o %s shows a secret:\n%s\n%s", format, stdout, stderr)
			}
		}
		for _, want := range []string{"postgres://waooaw:****@127.0.0.1:36666/waooaw", "redis://:****@127.0.0.1:37613"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("status -o %s lacks %s:\n%s", format, want, stdout)
			}
		}
	}

	_, stdout, _ := run(t, vars, "status", "-o", "env")
	for _, want := range []string{
		"DATABASE_URL=postgres://waooaw:" + secrets.PostgresPassword + "@127.0.0.1:36666/waooaw?sslmode=disable\n",
		"WAOOAW_POSTGRES_URL=postgres://waooaw:" + secrets.PostgresPassword + "@127.0.0.1:36666/waooaw\n",
		"REDIS_URL=redis://:" + secrets.RedisPassword + "@127.0.0.1:37613\n",
		"WAOOAW_OPA_TOKEN=" + secrets.OPAToken + "\n",
		"OPA_URL=http://127.0.0.1:39415\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status -o env lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, secrets.PostgresSuperuserPassword) {
		t.Errorf("status -o env shows the database superuser's password, which nothing but up needs:\n%s", stdout)
	}
}
