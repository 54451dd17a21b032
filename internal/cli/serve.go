package cli

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/services/backend"
)

func newServeCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve SERVICE",
		Short: "Run one service in the foreground (the container entrypoint)",
		Long: `Run one of the embedded services in the foreground until SIGINT or SIGTERM.
Configuration comes from environment variables (SPEC §3–5); flags override them.`,
	}
	cmd.AddCommand(newServeBackendCmd(e))
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
