// Package local is the runtime that needs no Docker: a background supervisor process runs the
// four embedded services and OPA as `waooaw serve …` child processes, PostgreSQL as a private
// cluster from the machine's server binaries, and redis-server from PATH (or else the embedded
// Redis-protocol server). Every service logs to a file under the project's state directory, and
// one that crashes is restarted with back-off.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/waooaw/waooaw/internal/stack"
)

// process is one run of one service.
type process struct {
	pid   int
	done  chan struct{} // closed when the process has exited; err is then set
	err   error
	stop  func(ctx context.Context) error
	began time.Time
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// launcher starts one run of a service.
type launcher func(ctx context.Context) (*process, error)

// unit is a service the runtime owns: its launcher and its run history.
type unit struct {
	svc    stack.Service
	launch launcher
	// program says what runs the service, for status.
	program string

	mu       sync.Mutex
	cur      *process
	restarts int
	crashes  int // exits in a row without a stable run, for the back-off
	lastExit string
	stopping bool
}

// Runtime runs services as child processes of this process. It implements stack.Runtime.
type Runtime struct {
	project *stack.Project
	logger  *slog.Logger
	units   map[string]*unit
	// onChange is called after a service starts, exits or restarts (to record the state).
	onChange func()

	mu sync.Mutex
	// supervising turns on restarts: while the engine waits for readiness an exit fails the
	// start at once instead (fail fast), afterwards it is restarted with back-off.
	supervising bool
}

// Backoff bounds the delay before a crashed service is started again; the delay doubles from
// minBackoff on each crash and resets once a run has lasted stableRun.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 10 * time.Second
	stableRun  = 30 * time.Second
	stopGrace  = 10 * time.Second
)

// Name implements stack.Runtime.
func (r *Runtime) Name() string { return "local" }

func (r *Runtime) unit(svc stack.Service) (*unit, error) {
	u, ok := r.units[svc.Name]
	if !ok {
		return nil, fmt.Errorf("the local runtime does not know service %q", svc.Name)
	}
	return u, nil
}

// Start implements stack.Runtime.
func (r *Runtime) Start(ctx context.Context, svc stack.Service) error {
	u, err := r.unit(svc)
	if err != nil {
		return err
	}
	u.mu.Lock()
	if u.cur != nil && !u.cur.exited() {
		u.mu.Unlock()
		return nil
	}
	u.stopping = false
	u.mu.Unlock()
	return r.run(ctx, u)
}

// run launches u once and watches it.
func (r *Runtime) run(ctx context.Context, u *unit) error {
	p, err := u.launch(ctx)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.cur = p
	u.mu.Unlock()
	r.changed()
	go r.watch(u, p)
	return nil
}

// watch waits for p to exit and, once the stack is up, starts the service again after a
// back-off, unless it is being stopped.
func (r *Runtime) watch(u *unit, p *process) {
	<-p.done
	u.mu.Lock()
	stopping := u.stopping
	if !stopping {
		u.lastExit = fmt.Sprintf("%s: %s", time.Now().UTC().Format(time.RFC3339), describeExit(p.err))
	}
	u.mu.Unlock()
	r.changed()
	if stopping {
		return
	}
	r.mu.Lock()
	supervising := r.supervising
	r.mu.Unlock()
	if !supervising {
		return // the engine sees the exit through Exited
	}
	u.mu.Lock()
	if time.Since(p.began) >= stableRun {
		u.crashes = 0
	}
	delay := min(minBackoff<<min(u.crashes, 6), maxBackoff)
	u.crashes++
	u.mu.Unlock()
	r.logger.Warn("service exited; restarting", "target", u.svc.Name, "exit", describeExit(p.err), "after", delay.String())
	for {
		time.Sleep(delay)
		u.mu.Lock()
		if u.stopping {
			u.mu.Unlock()
			return
		}
		u.restarts++
		u.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := r.run(ctx, u)
		cancel()
		if err == nil {
			r.logger.Info("service restarted", "target", u.svc.Name)
			return
		}
		r.logger.Error("restart failed", "target", u.svc.Name, "err", err.Error())
		delay = min(delay*2, maxBackoff)
	}
}

func describeExit(err error) string {
	if err == nil {
		return "exited with status 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	return err.Error()
}

// Supervise turns on restarts: from now on a service that exits is started again.
func (r *Runtime) Supervise() {
	r.mu.Lock()
	r.supervising = true
	r.mu.Unlock()
}

// Exited implements stack.Runtime.
func (r *Runtime) Exited(svc stack.Service) error {
	u, err := r.unit(svc)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cur == nil || !u.cur.exited() {
		return nil
	}
	return fmt.Errorf("%w: %s", stack.ErrExited, describeExit(u.cur.err))
}

// Stop implements stack.Runtime.
func (r *Runtime) Stop(ctx context.Context, svc stack.Service) error {
	u, err := r.unit(svc)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.stopping = true
	p := u.cur
	u.mu.Unlock()
	if p == nil || p.exited() {
		return nil
	}
	return p.stop(ctx)
}

// LogTail implements stack.Runtime.
func (r *Runtime) LogTail(svc stack.Service, n int) []string {
	return tailLines(r.project.LogFile(svc.Name), n)
}

func (r *Runtime) changed() {
	if r.onChange != nil {
		r.onChange()
	}
}

// snapshot returns what status needs to know about each service.
func (r *Runtime) snapshot() map[string]stack.ServiceState {
	out := make(map[string]stack.ServiceState, len(r.units))
	for name, u := range r.units {
		u.mu.Lock()
		st := stack.ServiceState{Restarts: u.restarts, LastExit: u.lastExit, Program: u.program}
		if u.cur != nil && !u.cur.exited() {
			st.PID = u.cur.pid
			st.StartedAt = u.cur.began
		}
		u.mu.Unlock()
		out[name] = st
	}
	return out
}

// startCommand starts cmd as one run of a service whose output goes to out.
func startCommand(cmd *exec.Cmd, out io.Writer) (*process, error) {
	cmd.Stdout, cmd.Stderr = out, out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// The services stop with the supervisor, whatever kills it.
	setParentDeathSignal(cmd.SysProcAttr, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &process{pid: cmd.Process.Pid, done: make(chan struct{}), began: time.Now()}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	p.stop = func(ctx context.Context) error {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		grace, cancel := context.WithTimeout(ctx, stopGrace)
		defer cancel()
		select {
		case <-p.done:
			return nil
		case <-grace.Done():
		}
		_ = cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("pid %d did not stop on SIGTERM and was killed", p.pid)
	}
	return p, nil
}

// childEnv is the environment of a child: the essentials of ours, then the service's own.
// The user's shell may hold DATABASE_URL, JWT_* and the like for other purposes; they must not
// leak into the stack.
func childEnv(getenv func(string) string, own map[string]string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL", "USER", "LOGNAME"} {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range own {
		env = append(env, k+"="+v)
	}
	return env
}

// tailLines returns up to n last lines of the file at path.
func tailLines(path string, n int) []string {
	const maxRead = 64 << 10
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil
	}
	off := max(0, info.Size()-maxRead)
	buf := make([]byte, info.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first may be cut
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines[max(0, len(lines)-n):]
}
