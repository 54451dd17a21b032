package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/token"
)

// run executes the command line with a clean environment plus vars.
func run(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	code = Run(context.Background(), args, lookup, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{"unknown command", []string{"bogus"}, exitUsage, "unknown command"},
		{"unknown flag", []string{"version", "--bogus"}, exitUsage, "unknown flag"},
		{"bad output", []string{"version", "-o", "xml"}, exitUsage, "-o must be text or json"},
		{"serve backend without database", []string{"serve", "backend"}, exitUsage, "DATABASE_URL must be set"},
		{"serve backend with a bad database URL", []string{"serve", "backend", "--database-url", "mysql://x"}, exitUsage, "DATABASE_URL must be a URL"},
		{"serve backend without a key", []string{"serve", "backend", "--database-url", "postgres://u@127.0.0.1:1/db"}, exitUsage, "JWT_PUBLIC_KEY"},
		{"migrate without database", []string{"migrate"}, exitUsage, "--database-url"},
		{"migrate to nowhere", []string{"migrate", "--database-url", "postgres://u@127.0.0.1:1/db?connect_timeout=1"}, exitEnvironment, "migrat"},
		{"mint without a key or a home", []string{"token", "mint"}, exitUsage, "neither XDG_STATE_HOME nor HOME"},
		{"mint for a bad project name", []string{"token", "mint", "-p", "../x"}, exitUsage, "not valid"},
		{"verify with a bad format", []string{"verify", "-o", "xml"}, exitUsage, `-o "xml"`},
		{"verify an unknown check", []string{"verify", "--only", "nope"}, exitUsage, `unknown check "nope"`},
		{"verify an unknown suite", []string{"verify", "--suite", "huge"}, exitUsage, `suite "huge"`},
		{"verify half a remote target", []string{"verify", "--cp-url", "http://127.0.0.1:1"}, exitUsage, "neither XDG_STATE_HOME nor HOME"},
		{"status of no stack", []string{"status", "-o", "yaml"}, exitUsage, `-o "yaml"`},
		{"up with a bad offset", []string{"up", "--port-offset", "-5"}, exitUsage, "--port-offset -5"},
		{"up on an unknown runtime", []string{"up", "--runtime", "podman"}, exitUsage, `--runtime "podman"`},
		{"logs of an unknown service", []string{"logs", "bogus"}, exitUsage, `unknown service "bogus"`},
		{"logs with a bad since", []string{"logs", "--since", "yesterday"}, exitUsage, `--since "yesterday"`},
		{"healthcheck without a URL or ADDR", []string{"healthcheck"}, exitUsage, "ADDR"},
		{"healthcheck of nothing", []string{"healthcheck", "http://127.0.0.1:1/health"}, exitFailed, "unhealthy"},
		{"inspect garbage", []string{"token", "inspect", "garbage"}, exitUsage, "not a JWT"},
		{"inspect needs an argument", []string{"token", "inspect"}, exitUsage, "accepts 1 arg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := run(t, nil, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.message) {
				t.Errorf("stderr %q lacks %q", stderr, c.message)
			}
			if stdout != "" {
				t.Errorf("a failing command wrote to stdout: %q", stdout)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := run(t, nil, "version", "-o", "json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil || v["version"] == "" || !strings.HasPrefix(v["go"], "go") {
		t.Fatalf("version -o json: exit %d, %q", code, stdout)
	}
}

func writeKey(t *testing.T) (string, *token.Verifier) {
	t.Helper()
	key, err := token.GenerateSigningKey(token.ES256)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := key.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	keys, _ := key.PublicKeySet()
	v, err := token.NewVerifier(token.VerifierConfig{}, keys)
	if err != nil {
		t.Fatal(err)
	}
	return path, v
}

func TestMintDefaultsVerify(t *testing.T) {
	keyFile, v := writeKey(t)
	code, stdout, stderr := run(t, nil, "token", "mint", "--key", keyFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	raw := strings.TrimSpace(stdout)
	if strings.Count(stdout, "\n") != 1 || strings.Contains(raw, " ") {
		t.Fatalf("stdout must be the token alone: %q", stdout)
	}
	c, err := v.Verify(raw)
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if !c.HasRole(token.RoleCustomerAdmin) || c.CustomerID != DemoCustomerID || c.ExpiresAt.Sub(c.IssuedAt.Time).Minutes() != 15 {
		t.Errorf("claims %+v", c)
	}
	if !strings.Contains(stderr, `"customer_id":"`+DemoCustomerID) {
		t.Errorf("claims not shown on stderr: %q", stderr)
	}
}

func TestMintOptions(t *testing.T) {
	keyFile, v := writeKey(t)
	cases := []struct {
		name  string
		args  []string
		check func(*token.Claims) bool
	}{
		{"platform role has no tenant", []string{"--role", "helpdesk_agent"}, func(c *token.Claims) bool {
			return c.CustomerID == "" && c.HasRole(token.RoleHelpdeskAgent)
		}},
		{"governor", []string{"--governor", "--agent-id", "ag-1"}, func(c *token.Claims) bool { return c.IsGovernor() && c.GovernorAgentID == "ag-1" }},
		{"trial", []string{"--trial", "--trial-expires", "48h"}, func(c *token.Claims) bool {
			return c.TrialMode && c.TrialExpiresAt != nil && c.TrialExpiresAt.After(c.IssuedAt.Time)
		}},
		{"extra claim", []string{"--claim", "tier=3", "--claim", "note=hi"}, func(c *token.Claims) bool {
			return c.Extra["tier"] == float64(3) && c.Extra["note"] == "hi"
		}},
		{"two roles and a subject", []string{"--role", "viewer", "--role", "industry_manager", "--sub", "ana"}, func(c *token.Claims) bool {
			return len(c.Roles) == 2 && c.Subject == "ana" && c.UserID == "ana" && c.Email == "ana@waooaw.test"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, nil, append([]string{"token", "mint", "--key", keyFile}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			c, err := v.Verify(strings.TrimSpace(stdout))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("claims %+v", c)
			}
		})
	}
	for _, bad := range [][]string{
		{"--role", "root"}, {"--ttl", "-1m"}, {"--claim", "sub=x"}, {"--claim", "novalue"},
		{"--trial-expires", "1h"}, {"--trial", "--trial-expires", "tomorrow"}, {"-o", "yaml"},
	} {
		if code, _, stderr := run(t, nil, append([]string{"token", "mint", "--key", keyFile}, bad...)...); code != exitUsage {
			t.Errorf("mint %v: exit %d, want %d (%s)", bad, code, exitUsage, stderr)
		}
	}
}

func TestMintOutputsAndInspect(t *testing.T) {
	keyFile, _ := writeKey(t)
	_, header, _ := run(t, nil, "token", "mint", "--key", keyFile, "-o", "header")
	if !strings.HasPrefix(header, "Authorization: Bearer ey") {
		t.Errorf("-o header gave %q", header)
	}
	_, js, _ := run(t, nil, "token", "mint", "--key", keyFile, "-o", "json")
	var m struct {
		Token  string         `json:"token"`
		Claims map[string]any `json:"claims"`
	}
	if err := json.Unmarshal([]byte(js), &m); err != nil || m.Claims["iss"] != "waooaw.com" {
		t.Fatalf("-o json gave %q", js)
	}
	code, out, _ := run(t, nil, "token", "inspect", m.Token)
	var in map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &in) != nil || in["expired"] != false || in["header"].(map[string]any)["alg"] != "ES256" {
		t.Errorf("inspect: exit %d, %s", code, out)
	}
}

func TestMintSignsWithTheProjectKey(t *testing.T) {
	vars := map[string]string{"XDG_STATE_HOME": t.TempDir()}
	code, stdout, stderr := run(t, vars, "token", "mint", "-p", "keyed")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	project, err := stack.OpenProject("keyed", func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(project.KeyPath())
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("project key: %v, mode %v; want a 0600 file", err, info.Mode().Perm())
	}
	pub, err := os.ReadFile(project.PublicKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.ParsePublicKeyPEM(token.RS256, pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier(token.VerifierConfig{}, keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(strings.TrimSpace(stdout)); err != nil {
		t.Fatalf("a token minted with the project key does not verify with its public key: %v", err)
	}
	// A second mint uses the same key; another project's key would not verify.
	_, again, _ := run(t, vars, "token", "mint", "-p", "keyed")
	if _, err := v.Verify(strings.TrimSpace(again)); err != nil {
		t.Errorf("second mint: %v", err)
	}
	_, other, _ := run(t, vars, "token", "mint", "-p", "other")
	if _, err := v.Verify(strings.TrimSpace(other)); err == nil {
		t.Error("a token of another project verified with this project's key")
	}
}
