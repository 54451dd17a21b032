package cli

// Tests of the command line's refusals: arguments that would silently act on the wrong
// project, check nothing, or mint a token the stack refuses.

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/token"
)

// deadURL is an http URL on a 127.0.0.1 port that nothing listens on (it was free a moment ago).
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// serviceURLFlags points verify at cp, pp, gateway and backend all at url.
func serviceURLFlags(url string) []string {
	return []string{"--cp-url", url, "--pp-url", url, "--gateway-url", url, "--backend-url", url}
}

func TestEmptyProjectIsAUsageError(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		message string
	}{
		{"empty -p", nil, []string{"-p", "", "token", "mint"}, "-p/--project is empty"},
		{"empty --project=", nil, []string{"--project=", "status"}, "-p/--project is empty"},
		{"empty -p after the command", nil, []string{"down", "-p", ""}, "-p/--project is empty"},
		{"empty -p wins over WAOOAW_PROJECT", map[string]string{"WAOOAW_PROJECT": "other"}, []string{"token", "mint", "-p", ""}, "-p/--project is empty"},
		{"WAOOAW_PROJECT set but empty", map[string]string{"WAOOAW_PROJECT": ""}, []string{"token", "mint"}, "WAOOAW_PROJECT is set but empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			state := t.TempDir()
			vars := map[string]string{"XDG_STATE_HOME": state}
			for k, v := range c.env {
				vars[k] = v
			}
			code, stdout, stderr := run(t, vars, c.args...)
			if code != exitUsage || !strings.Contains(stderr, c.message) {
				t.Errorf("exit %d, stderr %q; want %d naming %q", code, stderr, exitUsage, c.message)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			// Nothing was done to the default project (token mint would have made its key).
			if _, err := os.Stat(filepath.Join(state, "waooaw", stack.DefaultProject)); !os.IsNotExist(err) {
				t.Errorf("the default project was touched: %v", err)
			}
		})
	}
	// A named project still works, from the flag or from the environment.
	for _, vars := range []map[string]string{{"WAOOAW_PROJECT": "named"}, nil} {
		args := []string{"token", "mint"}
		if vars == nil {
			vars, args = map[string]string{}, append(args, "-p", "named")
		}
		vars["XDG_STATE_HOME"] = t.TempDir()
		if code, _, stderr := run(t, vars, args...); code != exitOK {
			t.Errorf("%v with %v: exit %d, %s", args, vars, code, stderr)
		}
	}
}

func TestVerifyRefusesToCheckNothing(t *testing.T) {
	dead := deadURL(t)
	cases := []struct {
		name    string
		args    []string
		message string
	}{
		{"only and skip the same check", []string{"--only", "database", "--skip", "database"}, "nothing would run"},
		{"only and skip every listed check", []string{"--only", "auth-jwt,cp-health", "--skip", "cp-health,auth-jwt"}, "nothing would run"},
		// The database check skips itself without --database-url: a run where every check
		// skipped verified nothing either.
		{"every check skips itself", append([]string{"--only", "database"}, serviceURLFlags(dead)...), "nothing was verified"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]string{"XDG_STATE_HOME": t.TempDir()}
			code, _, stderr := run(t, vars, append([]string{"verify"}, c.args...)...)
			if code != exitUsage || !strings.Contains(stderr, c.message) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, stderr, exitUsage, c.message)
			}
		})
	}
}

// fakeRunningProject records a running docker-runtime stack for the default project (the docker
// runtime's state is taken at its word, so no container is needed) on a port offset whose
// PostgreSQL port is a listener of the test's. It returns the environment and a count of the
// connections made to that "database".
func fakeRunningProject(t *testing.T) (map[string]string, *atomic.Int32) {
	t.Helper()
	svcs, err := stack.Services(stack.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pgPort := 0
	for _, s := range svcs {
		if s.Name == stack.Postgres {
			pgPort = s.HostPort
		}
	}
	var l net.Listener
	for l == nil {
		c, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// The offset must put the PostgreSQL port on this listener and keep every port valid.
		if off := c.Addr().(*net.TCPAddr).Port - pgPort; off >= 0 && off <= stack.MaxPortOffset {
			l = c
		} else {
			c.Close()
		}
	}
	t.Cleanup(func() { l.Close() })
	var connections atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			c.Close()
		}
	}()
	vars := map[string]string{"XDG_STATE_HOME": t.TempDir()}
	project, err := stack.OpenProject("", func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	offset := l.Addr().(*net.TCPAddr).Port - pgPort
	if err := project.WriteState(&stack.State{Runtime: "docker", PortOffset: offset, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return vars, &connections
}

type verifyJSON struct {
	Results []struct {
		ID      string `json:"id"`
		Outcome string `json:"outcome"`
		Message string `json:"message"`
	} `json:"results"`
}

func TestVerifyWithServiceURLsLeavesTheProjectDatabaseAlone(t *testing.T) {
	vars, connections := fakeRunningProject(t)
	keyFile, _ := writeKey(t)
	args := append([]string{"verify", "-o", "json", "--key", keyFile}, serviceURLFlags(deadURL(t))...)
	code, stdout, stderr := run(t, vars, args...)
	// Nothing answers at the URLs: no stack to check, whatever the project's own stack does.
	if code != exitEnvironment || !strings.Contains(stderr, "no stack answered") || !strings.Contains(stderr, "--cp-url") {
		t.Errorf("exit %d, stderr %q; want %d with a hint about the URLs", code, stderr, exitEnvironment)
	}
	var rep verifyJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout)
	}
	found := false
	for _, r := range rep.Results {
		if r.ID == "database" {
			found = true
			if r.Outcome != "skipped" || !strings.Contains(r.Message, "--database-url") {
				t.Errorf("database check: %s %q; want skipped for want of --database-url", r.Outcome, r.Message)
			}
		}
	}
	if !found {
		t.Error("no database check in the report")
	}
	if n := connections.Load(); n != 0 {
		t.Errorf("verify connected %d times to the project's database while checking other URLs", n)
	}
}

func TestVerifyExitCodeTellsNoStackFromAFailingOne(t *testing.T) {
	keyFile, _ := writeKey(t)
	// Something answers, wrongly: a stack that is (partly) up and failing.
	wrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer wrong.Close()
	dead := deadURL(t)
	cases := []struct {
		name    string
		urls    []string
		code    int
		message string
	}{
		{"nothing answers", serviceURLFlags(dead), exitEnvironment, "no stack answered"},
		{"everything answers wrongly", serviceURLFlags(wrong.URL), exitFailed, "verification failed"},
		{"only the backend answers", []string{"--cp-url", dead, "--pp-url", dead, "--gateway-url", dead, "--backend-url", wrong.URL}, exitFailed, "verification failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]string{"XDG_STATE_HOME": t.TempDir()}
			code, _, stderr := run(t, vars, append([]string{"verify", "--key", keyFile}, c.urls...)...)
			if code != c.code || !strings.Contains(stderr, c.message) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, stderr, c.code, c.message)
			}
		})
	}
}

func TestLogsRefusesANegativeTail(t *testing.T) {
	for _, n := range []string{"-5", "-1"} {
		code, _, stderr := run(t, map[string]string{"XDG_STATE_HOME": t.TempDir()}, "logs", "--tail", n)
		if code != exitUsage || !strings.Contains(stderr, "--tail "+n) {
			t.Errorf("logs --tail %s: exit %d, stderr %q; want %d naming --tail", n, code, stderr, exitUsage)
		}
	}
}

// cancelOnWrite cancels a context on the first write: an interrupt that arrives once output
// has begun, as Ctrl-C does on `logs -f`.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancel()
	return w.buf.Write(p)
}

func TestLogsFollowEndedByInterruptExits130(t *testing.T) {
	vars := map[string]string{"XDG_STATE_HOME": t.TempDir()}
	project, err := stack.OpenProject("", func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(project.LogDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	line := `{"time":"2026-01-02T03:04:05Z","level":"INFO","msg":"hello from the gateway"}` + "\n"
	if err := os.WriteFile(project.LogFile(stack.Gateway), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &cancelOnWrite{cancel: cancel}
	var stderr bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	code := Run(ctx, []string{"logs", "-f"}, lookup, strings.NewReader(""), stdout, &stderr)
	if code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("logs -f interrupted: exit %d, stderr %q; want %d", code, stderr.String(), exitInterrupted)
	}
	if !strings.Contains(stdout.buf.String(), "hello from the gateway") {
		t.Errorf("logs -f printed %q before the interrupt", stdout.buf.String())
	}
}

func TestMintRefusesTokensTheStackRefuses(t *testing.T) {
	keyFile, _ := writeKey(t)
	over := (token.DefaultMaxLifetime + time.Hour).String()
	cases := []struct {
		name    string
		args    []string
		message string
	}{
		{"ttl over the limit", []string{"--ttl", over}, "over the stack's limit of " + shortDuration(token.DefaultMaxLifetime)},
		{"customer and platform roles", []string{"--role", "customer_admin", "--role", "viewer"}, token.CheckRoles([]string{"customer_admin", "viewer"}).Error()},
		{"platform then customer role", []string{"--role", "helpdesk_agent", "--role", "customer_user"}, token.CheckRoles([]string{"helpdesk_agent", "customer_user"}).Error()},
		{"governor of a customer", []string{"--governor", "--role", "customer_user"}, token.CheckRoles([]string{"customer_user", "admin"}).Error()},
		// --allow-invalid does not make unknown roles or a non-positive lifetime mintable.
		{"unknown role even when invalid is allowed", []string{"--allow-invalid", "--role", "root"}, `--role "root" is not a known role`},
		{"zero ttl even when invalid is allowed", []string{"--allow-invalid", "--ttl", "0s"}, "--ttl must be positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, nil, append([]string{"token", "mint", "--key", keyFile}, c.args...)...)
			if code != exitUsage || !strings.Contains(stderr, c.message) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, stderr, exitUsage, c.message)
			}
			if stdout != "" {
				t.Errorf("a refused mint printed %q", stdout)
			}
		})
	}
}

func TestMintAllowInvalidMintsWhatTheStackRefuses(t *testing.T) {
	keyFile, v := writeKey(t)
	over := token.DefaultMaxLifetime + time.Hour
	code, stdout, stderr := run(t, nil, "token", "mint", "--key", keyFile, "--allow-invalid",
		"--role", "customer_admin", "--role", "viewer", "--ttl", over.String())
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	raw := strings.TrimSpace(stdout)
	_, c, err := token.ParseUnverified(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasRole(token.RoleCustomerAdmin) || !c.HasRole(token.RoleViewer) || c.CustomerID != DemoCustomerID || c.ExpiresAt.Sub(c.IssuedAt.Time) != over {
		t.Errorf("claims %+v; want both roles, the demo customer and a %s lifetime", c, over)
	}
	if _, err := v.Verify(raw); err == nil {
		t.Error("the stack's verifier accepted the invalid token")
	}
}

func TestMintDefaultsStayValid(t *testing.T) {
	keyFile, v := writeKey(t)
	cases := []struct {
		name     string
		args     []string
		roles    []string
		customer string
	}{
		{"default customer admin", nil, []string{token.RoleCustomerAdmin}, DemoCustomerID},
		{"customer user", []string{"--role", "customer_user"}, []string{token.RoleCustomerUser}, DemoCustomerID},
		{"viewer", []string{"--role", "viewer"}, []string{token.RoleViewer}, ""},
		{"governor alone is a platform admin", []string{"--governor"}, []string{token.RoleAdmin}, ""},
		{"the longest lifetime the stack accepts", []string{"--ttl", token.DefaultMaxLifetime.String()}, []string{token.RoleCustomerAdmin}, DemoCustomerID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, nil, append([]string{"token", "mint", "--key", keyFile}, c.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			claims, err := v.Verify(strings.TrimSpace(stdout))
			if err != nil {
				t.Fatalf("the stack refuses the minted token: %v", err)
			}
			if strings.Join(claims.Roles, ",") != strings.Join(c.roles, ",") || claims.CustomerID != c.customer {
				t.Errorf("roles %v, customer %q; want %v, %q", claims.Roles, claims.CustomerID, c.roles, c.customer)
			}
		})
	}
}
