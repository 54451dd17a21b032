// Package cli is the waooaw command line: one file per command, each turning flags into an
// options struct and calling a run function. Exit codes are decided in one place (exit.go).
package cli

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"
)

// env is what every command may use of the outside world, passed in so tests can run commands
// with their own environment and streams.
type env struct {
	getenv func(string) string
	// lookupEnv tells an empty variable from an unset one (WAOOAW_PROJECT="" is a mistake,
	// not a request for the default project).
	lookupEnv func(string) (string, bool)
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	// project is the -p/--project flag; empty means WAOOAW_PROJECT or the default.
	project string
}

// Run executes the waooaw command line with args and returns the process exit code. lookupEnv
// reads the environment (os.LookupEnv, or a test's own).
func Run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	getenv := func(k string) string { v, _ := lookupEnv(k); return v }
	e := &env{getenv: getenv, lookupEnv: lookupEnv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	return report(stderr, ctx, err)
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "waooaw",
		Short: "Run, verify and debug the WAOOAW platform stack",
		Long: `waooaw runs the seven-service WAOOAW platform (PostgreSQL, Redis, OPA, the Plant Backend,
the Plant Gateway and the CP and PP portal proxies) from one binary.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return e.checkProject(cmd) }
	root.PersistentFlags().StringVarP(&e.project, "project", "p", "", `project name: stacks of different projects run side by side (default "waooaw", or WAOOAW_PROJECT)`)
	root.AddCommand(
		newUpCmd(e),
		newDownCmd(e),
		newStatusCmd(e),
		newLogsCmd(e),
		newVerifyCmd(e),
		newHealthcheckCmd(e),
		newSuperviseCmd(e),
		newServeCmd(e),
		newMigrateCmd(e),
		newVersionCmd(e),
		newTokenCmd(e),
	)
	return root
}

// checkProject refuses an empty project name given on purpose: `-p "$UNSET"` or an exported but
// empty WAOOAW_PROJECT would otherwise silently mean the default project, so `down` would stop
// someone else's stack.
func (e *env) checkProject(cmd *cobra.Command) error {
	if cmd.Flags().Changed("project") {
		if e.project == "" {
			return usageErr(errors.New(`-p/--project is empty: give a project name, or leave the flag out for the default (an unset shell variable?)`))
		}
		return nil
	}
	if v, ok := e.lookupEnv("WAOOAW_PROJECT"); ok && v == "" {
		return usageErr(errors.New("WAOOAW_PROJECT is set but empty: give a project name, or unset it for the default"))
	}
	return nil
}
