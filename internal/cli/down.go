package cli

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/stack/local"
)

func newDownCmd(e *env) *cobra.Command {
	var volumes, all bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the stack (its data is kept unless --volumes)",
		Example: `  waooaw down
  waooaw down --volumes    # also delete the database: the next up seeds afresh
  waooaw down --all        # every project's stack`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			projects := []*stack.Project{}
			if all {
				ps, err := stack.Projects(e.getenv)
				if err != nil {
					return err
				}
				projects = ps
			} else {
				p, err := e.openProject()
				if err != nil {
					return usageErr(err)
				}
				projects = append(projects, p)
			}
			for _, p := range projects {
				if err := stopStack(cmd.Context(), e, p, volumes); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&volumes, "volumes", false, "also delete the project's data (database)")
	cmd.Flags().BoolVar(&all, "all", false, "stop the stacks of every project")
	return cmd
}

// supervisorStopTimeout bounds how long down waits for a clean stop before killing.
const supervisorStopTimeout = time.Minute

// stopStack stops project's stack if it runs and, with volumes, deletes its data.
func stopStack(ctx context.Context, e *env, project *stack.Project, volumes bool) error {
	st, alive, err := runningState(project)
	if err != nil {
		return err
	}
	if alive && st.Runtime == "docker" {
		return downDocker(ctx, e, project, st, volumes)
	}
	if !alive {
		fmt.Fprintf(e.stderr, "stack %q is not running\n", project.Name)
	} else {
		began := time.Now()
		pid := st.Supervisor
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
			return fmt.Errorf("stop the supervisor (pid %d): %w", pid, err)
		}
		deadline := time.Now().Add(supervisorStopTimeout)
		for local.Alive(pid) {
			if time.Now().After(deadline) {
				// Its services die with it (parent-death signal).
				syscall.Kill(-pid, syscall.SIGKILL)
				syscall.Kill(pid, syscall.SIGKILL)
				project.RemoveState()
				return fmt.Errorf("the supervisor (pid %d) did not stop within %v and was killed; see %s", pid, supervisorStopTimeout, project.LogFile("supervisor"))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
		fmt.Fprintf(e.stderr, "stack %q stopped in %.2fs\n", project.Name, time.Since(began).Seconds())
	}
	if volumes {
		if err := local.RemoveData(project); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "deleted the data of stack %q\n", project.Name)
	}
	return nil
}
