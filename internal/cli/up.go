package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/stack/local"
)

// upOptions are the flags of `waooaw up`.
type upOptions struct {
	runtime    string
	portOffset int
	timeout    time.Duration
	foreground bool
	pull       string
	fresh      bool

	portOffsetSet bool // --port-offset was given, not defaulted
}

func newUpCmd(e *env) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring the stack up and wait until every service is healthy",
		Long: `Bring the seven services up in dependency order and return once all are healthy, printing each
service's URL and time to healthy. Running it on a running stack changes nothing and says so.

The local runtime (no Docker needed) runs the services under a background supervisor; logs and
data live under $XDG_STATE_HOME/waooaw/<project>.`,
		Example: `  waooaw up
  waooaw up --port-offset 100 -p other     # a second stack beside the first
  waooaw up --foreground                   # stay attached; Ctrl-C stops everything
  waooaw up --fresh                        # delete the data first: a freshly seeded stack`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.portOffsetSet = cmd.Flags().Changed("port-offset")
			return runUp(cmd.Context(), e, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.runtime, "runtime", "auto", "auto|local|docker")
	f.IntVar(&o.portOffset, "port-offset", 0, "shift every host port by N (run stacks side by side)")
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long the whole stack may take to become healthy")
	f.BoolVar(&o.foreground, "foreground", false, "stay attached and stop the stack on Ctrl-C")
	f.StringVar(&o.pull, "pull", "missing", "docker runtime: missing|always|never")
	f.BoolVar(&o.fresh, "fresh", false, "delete the project's data first (a fresh seed)")
	return cmd
}

func runUp(ctx context.Context, e *env, o *upOptions) error {
	if !slices.Contains([]string{"missing", "always", "never"}, o.pull) {
		return usageErr(fmt.Errorf("--pull %q: use missing, always or never", o.pull))
	}
	if o.timeout <= 0 {
		return usageErr(fmt.Errorf("--timeout must be positive, got %v", o.timeout))
	}
	if o.portOffset < 0 || o.portOffset > stack.MaxPortOffset {
		return usageErr(fmt.Errorf("--port-offset %d is out of range: use 0 to %d", o.portOffset, stack.MaxPortOffset))
	}
	switch o.runtime {
	case "local", "auto", "docker":
	default:
		return usageErr(fmt.Errorf("--runtime %q: use auto, local or docker", o.runtime))
	}
	project, err := e.openProject()
	if err != nil {
		return usageErr(err)
	}

	if o.fresh {
		if err := stopStack(ctx, e, project, true); err != nil {
			return err
		}
	} else if st, alive, err := runningState(project); err != nil {
		return err
	} else if alive {
		return upAgain(ctx, e, project, st, o)
	}

	progress := newProgress(e.stderr, isTerminal(e.stderr) && e.getenv("NO_COLOR") == "")
	if o.runtime == "auto" {
		ok, why := dockerUsable(ctx, e)
		if ok {
			o.runtime = "docker"
		} else {
			o.runtime = "local"
		}
		fmt.Fprintf(e.stderr, "runtime: %s (%s)\n", o.runtime, why)
	}
	if o.runtime == "docker" {
		if o.foreground {
			return usageErr(errors.New("--foreground is for the local runtime; on docker follow the stack with 'waooaw logs -f'"))
		}
		return upDocker(ctx, e, project, o, progress)
	}
	if _, err := project.EnsureKey(); err != nil {
		return fmt.Errorf("the project's signing key: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the waooaw binary: %w", err)
	}
	plan, err := local.NewPlan(project, o.portOffset, exe, e.getenv)
	if errors.Is(err, local.ErrPrerequisite) {
		return environmentErr(err)
	} else if err != nil {
		return usageErr(err)
	}
	if err := stack.CheckPortsFree(plan.PortClaims()); err != nil {
		return environmentErr(err)
	}

	began := time.Now()
	if o.foreground {
		return upForeground(ctx, e, plan, o, progress, began)
	}
	if err := spawnSupervisor(ctx, e, plan, o, progress); err != nil {
		return err
	}
	return printUp(e, project, plan.Services, progress, time.Since(began), false)
}

// upAgain handles `up` on a stack whose supervisor runs: it changes nothing, and waits for any
// service that is not healthy yet (the supervisor restarts crashed ones).
func upAgain(ctx context.Context, e *env, project *stack.Project, st *stack.State, o *upOptions) error {
	if o.portOffsetSet && o.portOffset != st.PortOffset {
		return usageErr(fmt.Errorf("project %q already runs with --port-offset %d; run 'waooaw down -p %s' first to change it", project.Name, st.PortOffset, project.Name))
	}
	if _, err := project.ReadSecret(stack.SecretPostgresPassword); errors.Is(err, fs.ErrNotExist) {
		// Started by an earlier waooaw, with fixed passwords: a restart makes the secrets and
		// converts the data.
		return environmentErr(fmt.Errorf("stack %q was started by an earlier waooaw, without per-project passwords: run 'waooaw down%s' and 'waooaw up%s' (the data is kept and converted)",
			project.Name, projectFlag(project), projectFlag(project)))
	}
	svcs, err := projectServices(project, st.PortOffset)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(o.timeout)
	if o.runtime == "local" && st.Runtime != "local" || o.runtime == "docker" && st.Runtime != "docker" {
		return usageErr(fmt.Errorf("project %q already runs on the %s runtime; run 'waooaw down%s' first to switch", project.Name, st.Runtime, projectFlag(project)))
	}
	for {
		health := probeAll(ctx, svcs)
		var sick []string
		for _, s := range svcs {
			if health[s.Name] != nil {
				sick = append(sick, s.Name)
			}
		}
		if len(sick) == 0 {
			fmt.Fprintf(e.stderr, "stack %q is already up (%s runtime); nothing changed\n", project.Name, st.Runtime)
			return printUp(e, project, svcs, nil, 0, true)
		}
		if st.Runtime == "docker" {
			// Containers do not restart themselves: start what is missing or stopped again.
			fmt.Fprintf(e.stderr, "stack %q (docker runtime): %v not healthy; starting them again\n", project.Name, sick)
			o.portOffset = st.PortOffset
			return upDockerAgain(ctx, e, project, o)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stack %q runs but %v did not become healthy within %v: see 'waooaw status' and 'waooaw logs %s'", project.Name, sick, o.timeout, sick[0])
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runningState returns the project's state and whether its supervisor is alive. A state whose
// supervisor is gone (killed, machine rebooted) is stale: it is removed.
func runningState(project *stack.Project) (*stack.State, bool, error) {
	st, err := project.ReadState()
	if errors.Is(err, stack.ErrNoState) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if st.Runtime == "local" && !local.Alive(st.Supervisor) {
		return st, false, project.RemoveState()
	}
	return st, true, nil
}

func upForeground(ctx context.Context, e *env, plan *local.Plan, o *upOptions, progress *progress, began time.Time) error {
	if err := os.MkdirAll(plan.Project.LogDir(), 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(plan.Project.LogFile("supervisor"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open the supervisor log: %w", err)
	}
	defer logFile.Close()
	logger, err := supervisorLogger(plan.Project, logFile)
	if err != nil {
		return err
	}
	sup := &local.Supervisor{Plan: plan, Events: progress.event, Logger: logger, Timeout: o.timeout}
	runErr := sup.Run(ctx, func(err error) {
		if err != nil {
			return
		}
		printUp(e, plan.Project, plan.Services, progress, time.Since(began), false)
		fmt.Fprintln(e.stderr, "the stack runs in the foreground: Ctrl-C stops it")
	})
	if runErr != nil {
		return upFailure(runErr)
	}
	fmt.Fprintln(e.stderr, "stack stopped")
	return nil
}

// upFailure gives a failed start its exit code and the failing service's last log lines.
func upFailure(err error) error {
	var se *stack.ServiceError
	if errors.As(err, &se) {
		return &exitError{exitFailed, errors.New(se.Detail())}
	}
	if errors.Is(err, local.ErrPrerequisite) {
		return environmentErr(err)
	}
	return err
}

// supervisorEvent is one line of the supervisor's progress pipe: an engine event, or the final
// outcome of the start (Done).
type supervisorEvent struct {
	stack.Event
	Done    bool     `json:"done,omitempty"`
	Failure string   `json:"failure,omitempty"`
	LogTail []string `json:"log_tail,omitempty"`
}

// spawnSupervisor starts `waooaw supervise` detached from this process and its terminal, and
// relays its progress until the stack is up or failed.
func spawnSupervisor(ctx context.Context, e *env, plan *local.Plan, o *upOptions, progress *progress) error {
	project := plan.Project
	if err := os.MkdirAll(project.LogDir(), 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(project.LogFile("supervisor"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open the supervisor log: %w", err)
	}
	defer logFile.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd := exec.Command(plan.Exe, "supervise", "--project", project.Name,
		"--port-offset", fmt.Sprint(plan.PortOffset), "--timeout", o.timeout.String(), "--events-fd", "3")
	cmd.Env = os.Environ()
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // survives this terminal closing
	if err := cmd.Start(); err != nil {
		pw.Close()
		return fmt.Errorf("start the supervisor: %w", err)
	}
	pw.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	// Ctrl-C while we wait stops the half-started stack rather than leaving it behind.
	stopOnCancel := context.AfterFunc(ctx, func() { cmd.Process.Signal(syscall.SIGTERM) })
	defer stopOnCancel()

	result := make(chan error, 1)
	go func() { result <- relayProgress(pr, progress) }()
	select {
	case err := <-result:
		if ctx.Err() != nil {
			<-exited
			return ctx.Err()
		}
		return err
	case <-ctx.Done():
		<-exited
		return ctx.Err()
	}
}

// relayProgress renders the supervisor's events until its final one.
func relayProgress(r io.Reader, progress *progress) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev supervisorEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue
		}
		if ev.Done {
			if ev.Failure == "" {
				return nil
			}
			se := &stack.ServiceError{Service: ev.Service, Err: errors.New(ev.Failure), LogTail: ev.LogTail}
			if ev.Service == "" {
				return &exitError{exitFailed, errors.New(ev.Failure)}
			}
			return &exitError{exitFailed, errors.New(se.Detail())}
		}
		progress.event(ev.Event)
	}
	return &exitError{exitFailed, errors.New("the supervisor stopped before the stack was up; see its log with 'waooaw logs supervisor' or 'cat " + "$XDG_STATE_HOME/waooaw/<project>/logs/supervisor.log'")}
}

// printUp prints every service's URL (stdout) and time to healthy.
func printUp(e *env, project *stack.Project, svcs []stack.Service, progress *progress, total time.Duration, already bool) error {
	rows := make([]statusRow, 0, len(svcs))
	for _, s := range svcs {
		row := statusRow{Service: s.Name, State: "healthy", URL: s.DisplayURL()}
		if progress != nil {
			row.Ready = progress.readyAfter(s.Name)
		}
		rows = append(rows, row)
	}
	renderUpTable(e.stdout, rows, isTerminal(e.stdout) && e.getenv("NO_COLOR") == "")
	if !already {
		fmt.Fprintf(e.stderr, "stack %q is up in %.2fs (%s runtime) — try: curl -H \"Authorization: Bearer $(waooaw token mint%s)\" %s/api/agents\n",
			project.Name, total.Seconds(), runtimeOf(project), projectFlag(project), urlOf(svcs, stack.CP))
	}
	return nil
}

func projectFlag(p *stack.Project) string {
	if p.Name == stack.DefaultProject {
		return ""
	}
	return " -p " + p.Name
}

// runtimeOf names the runtime the project's stack runs on.
func runtimeOf(p *stack.Project) string {
	if st, err := p.ReadState(); err == nil {
		return st.Runtime
	}
	return "local"
}
