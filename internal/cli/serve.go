package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/waooaw/waooaw/internal/buildinfo"
	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/policy"
	"github.com/waooaw/waooaw/internal/services/backend"
	"github.com/waooaw/waooaw/internal/services/gateway"
	"github.com/waooaw/waooaw/internal/services/portal"
	"github.com/waooaw/waooaw/internal/stack/local"
)

func newServeCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve SERVICE",
		Short: "Run one service in the foreground (the container entrypoint)",
		Long: `Run one of the embedded services in the foreground until SIGINT or SIGTERM.
Configuration comes from environment variables (SPEC §3–5); flags override them.`,
	}
	cmd.AddCommand(newServeBackendCmd(e), newServeGatewayCmd(e), newServePortalCmd(e, "cp"), newServePortalCmd(e, "pp"), newServeOPACmd(e), newServeRedisCmd(e))
	return cmd
}

// envFlags binds flags to the environment variables they override: a flag that was set wins, an
// unset one leaves the variable as the environment has it.
type envFlags struct {
	flags map[string]*string // variable name → flag value
	set   func(name string) bool
	names map[string]string // variable name → flag name
}

func newEnvFlags(fs *pflag.FlagSet) *envFlags {
	return &envFlags{flags: map[string]*string{}, names: map[string]string{}, set: func(n string) bool { return fs.Changed(n) }}
}

func (f *envFlags) bind(fs *pflag.FlagSet, flag, variable, usage string) {
	f.flags[variable] = fs.String(flag, "", usage+" (overrides "+variable+")")
	f.names[variable] = flag
}

// getenv returns the environment as the flags amend it.
func (f *envFlags) getenv(base func(string) string) func(string) string {
	return func(k string) string {
		if v, ok := f.flags[k]; ok && f.set(f.names[k]) {
			return *v
		}
		return base(k)
	}
}

func newServeBackendCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backend",
		Short: "Run the Plant Backend (agents, customers, trials, subscriptions)",
		Args:  cobra.NoArgs,
	}
	ef := newEnvFlags(cmd.Flags())
	ef.bind(cmd.Flags(), "addr", "ADDR", "listen address, default :8001")
	ef.bind(cmd.Flags(), "database-url", "DATABASE_URL", "PostgreSQL URL")
	ef.bind(cmd.Flags(), "log-level", "LOG_LEVEL", "debug|info|warn|error")
	ef.bind(cmd.Flags(), "environment", "ENVIRONMENT", "development serves /docs")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		getenv := ef.getenv(e.getenv)
		cfg, err := backend.ConfigFromEnv(getenv)
		if err != nil {
			return configErr(err)
		}
		logger, err := httpx.NewLogger(e.stderr, cfg.LogLevel, "backend")
		if err != nil {
			return configErr(err)
		}
		return backend.Run(cmd.Context(), cfg, logger, nil)
	}
	return cmd
}

func newServeGatewayCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run the Plant Gateway (auth, RBAC, policy, budget, audit, proxy)",
		Args:  cobra.NoArgs,
	}
	ef := newEnvFlags(cmd.Flags())
	ef.bind(cmd.Flags(), "addr", "ADDR", "listen address, default :8000")
	ef.bind(cmd.Flags(), "backend-url", "PLANT_BACKEND_URL", "Plant Backend URL")
	ef.bind(cmd.Flags(), "sandbox-url", "PLANT_SANDBOX_URL", "sandbox backend for trial users")
	ef.bind(cmd.Flags(), "redis-url", "REDIS_URL", "Redis URL")
	ef.bind(cmd.Flags(), "opa-url", "OPA_URL", "OPA URL")
	ef.bind(cmd.Flags(), "database-url", "DATABASE_URL", "PostgreSQL URL for the audit log")
	ef.bind(cmd.Flags(), "log-level", "LOG_LEVEL", "debug|info|warn|error")
	ef.bind(cmd.Flags(), "environment", "ENVIRONMENT", "development serves /docs, /redoc, /openapi.json")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := gateway.ConfigFromEnv(ef.getenv(e.getenv))
		if err != nil {
			return configErr(err)
		}
		cfg.Version = buildinfo.Version
		logger, err := httpx.NewLogger(e.stderr, cfg.LogLevel, "gateway")
		if err != nil {
			return configErr(err)
		}
		return gateway.Run(cmd.Context(), cfg, logger, nil)
	}
	return cmd
}

func newServeOPACmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "opa",
		Short: "Run Open Policy Agent's server with the embedded WAOOAW policies",
		Long: `Run OPA's own REST server (as 'opa run --server --authentication=token --authorization=basic'
does) with the gateway's policies loaded. It answers /health and the /v1 data API like the
official image. Anyone may GET /health and POST the gateway's decision query; everything else
(policy and data reads and writes, queries) needs "Authorization: Bearer <token>" with the token
in OPA_MANAGEMENT_TOKEN_FILE — without one, nobody may. A Host header naming anything but
localhost, an IP address or its port is refused (421), against DNS rebinding. It listens on
127.0.0.1:8181 unless ADDR or --addr says otherwise.`,
		Args: cobra.NoArgs,
	}
	ef := newEnvFlags(cmd.Flags())
	ef.bind(cmd.Flags(), "addr", "ADDR", "listen address, default 127.0.0.1:8181")
	ef.bind(cmd.Flags(), "management-token-file", "OPA_MANAGEMENT_TOKEN_FILE", "file holding the bearer token of the management API")
	ef.bind(cmd.Flags(), "log-level", "LOG_LEVEL", "debug|info|warn|error")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		getenv := ef.getenv(e.getenv)
		logger, err := httpx.NewLogger(e.stderr, getenv("LOG_LEVEL"), "opa")
		if err != nil {
			return configErr(err)
		}
		addr := getenv("ADDR")
		if addr == "" {
			addr = "127.0.0.1:8181"
		}
		token, err := secretFromFile(getenv, "OPA_MANAGEMENT_TOKEN_FILE")
		if err != nil {
			return configErr(err)
		}
		return policy.Serve(cmd.Context(), policy.ServerConfig{Addr: addr, Logger: logger, ManagementToken: token})
	}
	return cmd
}

func newServeRedisCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "redis",
		Short: "Run the embedded Redis-protocol server (used when redis-server is not installed)",
		Long: `Run the embedded Redis-protocol server (miniredis) that the local runtime uses when
redis-server is not on PATH. It speaks enough of Redis for the gateway's budget ledger, keeps
its data in memory only (a restart starts every counter from zero). With REDIS_PASSWORD_FILE
it requires that password (AUTH) before any other command, as requirepass does. It listens
on 127.0.0.1:6379 unless ADDR or --addr says otherwise.`,
		Args: cobra.NoArgs,
	}
	ef := newEnvFlags(cmd.Flags())
	ef.bind(cmd.Flags(), "addr", "ADDR", "listen address, default 127.0.0.1:6379")
	ef.bind(cmd.Flags(), "password-file", "REDIS_PASSWORD_FILE", "file holding the password clients must AUTH with")
	ef.bind(cmd.Flags(), "log-level", "LOG_LEVEL", "debug|info|warn|error")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		getenv := ef.getenv(e.getenv)
		logger, err := httpx.NewLogger(e.stderr, getenv("LOG_LEVEL"), "redis")
		if err != nil {
			return configErr(err)
		}
		addr := getenv("ADDR")
		if addr == "" {
			addr = "127.0.0.1:6379"
		}
		password, err := secretFromFile(getenv, "REDIS_PASSWORD_FILE")
		if err != nil {
			return configErr(err)
		}
		return local.ServeRedis(cmd.Context(), addr, password, logger)
	}
	return cmd
}

// secretFromFile reads the secret in the file that the variable names ("" when it names none).
// Secrets travel as files so that they show in no process environment or listing.
func secretFromFile(getenv func(string) string, variable string) (string, error) {
	path := getenv(variable)
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", variable, err)
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return "", fmt.Errorf("%s: %s is empty", variable, path)
	}
	return secret, nil
}

func newServePortalCmd(e *env, name string) *cobra.Command {
	long := map[string]string{"cp": "customer portal", "pp": "platform portal"}[name]
	def := map[string]string{"cp": ":8015", "pp": ":8006"}[name]
	cmd := &cobra.Command{
		Use:   name,
		Short: "Run the " + long + " proxy (" + strings.ToUpper(name) + ") in front of the Plant Gateway",
		Args:  cobra.NoArgs,
	}
	ef := newEnvFlags(cmd.Flags())
	ef.bind(cmd.Flags(), "addr", "ADDR", "listen address, default "+def)
	ef.bind(cmd.Flags(), "gateway-url", "PLANT_GATEWAY_URL", "Plant Gateway URL")
	ef.bind(cmd.Flags(), "cors-origins", "CORS_ORIGINS", "comma-separated origins allowed to call from a browser")
	ef.bind(cmd.Flags(), "log-level", "LOG_LEVEL", "debug|info|warn|error")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := portal.ConfigFromEnv(name, ef.getenv(e.getenv))
		if err != nil {
			return configErr(err)
		}
		cfg.Version = buildinfo.Version
		logger, err := httpx.NewLogger(e.stderr, cfg.LogLevel, cfg.Service())
		if err != nil {
			return configErr(err)
		}
		return portal.Run(cmd.Context(), cfg, logger, nil)
	}
	return cmd
}
