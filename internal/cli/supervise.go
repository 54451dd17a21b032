package cli

import (
	"encoding/json"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/stack/local"
)

// newSuperviseCmd is the local runtime's background process, started by `waooaw up`. It is
// hidden: people use up and down.
func newSuperviseCmd(e *env) *cobra.Command {
	var (
		portOffset int
		timeout    time.Duration
		eventsFD   int
	)
	cmd := &cobra.Command{
		Use:    "supervise",
		Short:  "Run the local runtime's supervisor (started by 'waooaw up')",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			project, err := e.openProject()
			if err != nil {
				return usageErr(err)
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			// Progress goes to `up` through an inherited pipe; nothing when run by hand.
			var events *json.Encoder
			var pipe *os.File
			if eventsFD > 0 {
				pipe = os.NewFile(uintptr(eventsFD), "events")
				events = json.NewEncoder(pipe)
			}
			var mu sync.Mutex
			send := func(v any) {
				mu.Lock()
				defer mu.Unlock()
				if events != nil {
					_ = events.Encode(v) // `up` may have gone away; the stack goes on
				}
			}
			finish := func(err error) {
				ev := supervisorEvent{Done: true}
				var se *stack.ServiceError
				if errors.As(err, &se) {
					ev.Service, ev.Failure, ev.LogTail = se.Service, se.Err.Error(), se.LogTail
				} else if err != nil {
					ev.Failure = err.Error()
				}
				send(ev)
				mu.Lock()
				if pipe != nil {
					pipe.Close()
					events = nil
				}
				mu.Unlock()
			}

			logger, err := supervisorLogger(project, e.stderr)
			if err != nil {
				return err
			}
			plan, err := local.NewPlan(project, portOffset, exe, e.getenv)
			if err == nil {
				err = stack.CheckPortsFree(plan.PortClaims())
			}
			if err != nil {
				finish(err)
				return err
			}
			logger.Info("supervisor starting", "pid", os.Getpid(), "port_offset", portOffset, "redis", plan.RedisProgram(), "postgres_data", plan.PostgresData)
			sup := &local.Supervisor{
				Plan:    plan,
				Events:  func(ev stack.Event) { send(supervisorEvent{Event: ev}) },
				Logger:  logger,
				Timeout: timeout,
			}
			err = sup.Run(cmd.Context(), finish)
			if err != nil {
				logger.Error("supervisor stopped", "err", err.Error())
				return err
			}
			logger.Info("supervisor stopped")
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&portOffset, "port-offset", 0, "shift every host port by N")
	f.DurationVar(&timeout, "timeout", 2*time.Minute, "how long the stack may take to become healthy")
	f.IntVar(&eventsFD, "events-fd", 0, "write progress as JSON lines to this inherited file descriptor")
	return cmd
}
