package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/stack/logs"
)

// logsOptions are the flags of `waooaw logs`.
type logsOptions struct {
	follow        bool
	since         string
	tail          int
	tailGiven     bool // without --tail every line is shown
	correlationID string
	output        string
}

func newLogsCmd(e *env) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [SERVICE…]",
		Short: "Show the services' logs, merged in time order",
		Long: `Show the logs of all services, or of those named, merged in time order, each line prefixed with
its service. The services are postgres, redis, opa, backend, gateway, cp, pp (and supervisor,
the local runtime's own log).`,
		Example: `  waooaw logs -f                                  # follow everything
  waooaw logs gateway backend --since 5m
  waooaw logs --correlation-id 7f9c…              # one request across cp → gateway → backend
  waooaw logs -o json | jq 'select(.status >= 500)'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.tailGiven = cmd.Flags().Changed("tail")
			return runLogs(cmd.Context(), e, o, args)
		},
		ValidArgs: append(stack.Names(), "supervisor"),
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines until Ctrl-C")
	f.StringVar(&o.since, "since", "", "only lines newer than a duration (5m) or a time (RFC 3339)")
	f.IntVar(&o.tail, "tail", 0, "only the last N lines of each service (default: all)")
	f.StringVar(&o.correlationID, "correlation-id", "", "only the lines of one request, across every hop")
	f.StringVarP(&o.output, "output", "o", "text", "text|json (one JSON object per line)")
	return cmd
}

func runLogs(ctx context.Context, e *env, o *logsOptions, args []string) error {
	if o.output != "text" && o.output != "json" {
		return usageErr(fmt.Errorf("-o %q: use text or json", o.output))
	}
	opts := logs.Options{Tail: logs.TailAll, CorrelationID: o.correlationID, Follow: o.follow}
	if o.tailGiven {
		if o.tail < 0 {
			return usageErr(fmt.Errorf("--tail %d: give a number of lines, 0 or more (leave --tail out for all)", o.tail))
		}
		opts.Tail = o.tail
	}
	if o.since != "" {
		t, err := parseSince(o.since, time.Now())
		if err != nil {
			return usageErr(err)
		}
		opts.Since = t
	}
	services := args
	if len(services) == 0 {
		services = stack.Names()
	}
	known := append(stack.Names(), "supervisor")
	for _, s := range services {
		if !slices.Contains(known, s) {
			return usageErr(fmt.Errorf("unknown service %q: the services are %v", s, known))
		}
	}
	project, err := e.openProject()
	if err != nil {
		return usageErr(err)
	}
	st, stErr := project.ReadState()
	if errors.Is(stErr, stack.ErrNoState) && !dirExists(project.LogDir()) {
		return environmentErr(fmt.Errorf("stack %q has no logs: start it with 'waooaw up%s'", project.Name, projectFlag(project)))
	}
	sources := logs.FileSources(project.LogDir(), services)
	if stErr == nil && st.Runtime == "docker" {
		if sources, err = dockerLogSources(ctx, e, project, st, services); err != nil {
			return err
		}
	}

	var render func(logs.Entry) error
	if o.output == "json" {
		render = logs.NewJSONRenderer(e.stdout).Render
	} else {
		render = logs.NewTextRenderer(e.stdout, services, isTerminal(e.stdout) && e.getenv("NO_COLOR") == "", nil).Render
	}
	err = logs.Stream(ctx, sources, opts, render)
	if ctx.Err() != nil {
		// Ctrl-C is how -f ends, but it is still an interruption: exit 130 like any other
		// command, so a script can tell it from a stream that ended by itself.
		return ctx.Err()
	}
	return err
}

// parseSince reads --since: a duration back from now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %q: the duration must be positive", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q: give a duration (10m, 1h) or an RFC 3339 time (2026-11-28T13:00:00Z)", s)
}
