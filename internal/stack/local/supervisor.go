package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/waooaw/waooaw/internal/pgcluster"
	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/stack/logs"
)

// ErrPrerequisite is wrapped by errors about something the machine lacks (exit code 3).
var ErrPrerequisite = errors.New("prerequisite missing")

// Plan is what the local runtime will run, worked out before anything starts.
type Plan struct {
	Project    *stack.Project
	PortOffset int
	Services   []stack.Service
	// Exe is the waooaw binary the services run from.
	Exe string
	// Postgres are the server programs; PostgresData is the cluster's data directory.
	Postgres     pgcluster.Binaries
	PostgresData string
	// RedisServer is the redis-server program, or "" for the embedded server.
	RedisServer string
	// Secrets are the project's passwords and OPA's management token.
	Secrets stack.Secrets
	Getenv  func(string) string
}

// NewPlan finds what the local runtime needs on this machine and resolves the services for
// project. A missing program is an error wrapping ErrPrerequisite that says how to install it.
func NewPlan(project *stack.Project, portOffset int, exe string, getenv func(string) string) (*Plan, error) {
	return newPlan(project, portOffset, exe, getenv, pgcluster.SearchPatterns())
}

// newPlan is NewPlan with PostgreSQL's install folders given as glob patterns.
func newPlan(project *stack.Project, portOffset int, exe string, getenv func(string) string, pgFolders []string) (*Plan, error) {
	bins, err := pgcluster.FindBinariesIn(getenv, pgFolders)
	if err != nil {
		return nil, fmt.Errorf("%w: the local runtime runs PostgreSQL from the machine's server programs (initdb, postgres), and none were found on PATH or in the usual install folders; install them: apt-get install postgresql (Debian/Ubuntu), dnf install postgresql-server (Fedora), brew install postgresql@15 (macOS)", ErrPrerequisite)
	}
	secrets, err := project.EnsureSecrets()
	if err != nil {
		return nil, fmt.Errorf("the project's secrets: %w", err)
	}
	svcs, err := stack.Services(stack.Config{PortOffset: portOffset, PublicKey: project.PublicKeyPath(), Secrets: secrets})
	if err != nil {
		return nil, err
	}
	var redis string
	for _, dir := range filepath.SplitList(getenv("PATH")) {
		if p := filepath.Join(dir, "redis-server"); dir != "" && isExecutable(p) {
			redis = p
			break
		}
	}
	return &Plan{
		Project:      project,
		PortOffset:   portOffset,
		Services:     svcs,
		Exe:          exe,
		Postgres:     bins,
		PostgresData: postgresDataDir(project),
		RedisServer:  redis,
		Secrets:      secrets,
		Getenv:       getenv,
	}, nil
}

func isExecutable(p string) bool {
	info, err := os.Stat(p)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// postgresDataDir is the cluster's data under the project directory — except when we are
// root and the postgres account that then runs the server cannot reach that directory (root's
// home is private): then it lives under /var/lib/waooaw, as system services' data does.
func postgresDataDir(project *stack.Project) string {
	own := project.Path("postgres", "data")
	if os.Geteuid() != 0 || othersCanTraverse(project.Dir) {
		return own
	}
	return filepath.Join("/var/lib/waooaw", project.Name, "postgres", "data")
}

func othersCanTraverse(path string) bool {
	for dir := path; ; dir = filepath.Dir(dir) {
		if info, err := os.Stat(dir); err == nil && info.Mode().Perm()&0o001 == 0 {
			return false
		}
		if dir == filepath.Dir(dir) {
			return true
		}
	}
}

// PortClaims lists the host ports the plan binds.
func (p *Plan) PortClaims() []stack.PortClaim {
	claims := make([]stack.PortClaim, 0, len(p.Services))
	for _, s := range p.Services {
		claims = append(claims, stack.PortClaim{Service: s.Name, Host: stack.Host, Port: s.HostPort})
	}
	return claims
}

// RedisProgram says which Redis the plan runs.
func (p *Plan) RedisProgram() string {
	if p.RedisServer == "" {
		return "embedded Redis-protocol server (redis-server not on PATH; counters kept in memory)"
	}
	return p.RedisServer
}

// Supervisor runs a plan: it starts every service, keeps them running, and stops them when its
// context ends.
type Supervisor struct {
	Plan *Plan
	// Events receives the engine's progress.
	Events func(stack.Event)
	// Logger is the supervisor's own log.
	Logger *slog.Logger
	// Timeout bounds the start of the whole stack.
	Timeout time.Duration

	rt      *Runtime
	stateMu sync.Mutex
	state   *stack.State
}

// Run starts the stack and calls ready with the outcome once every service is ready (nil) or
// one failed. After a failure it stops what it started and returns the error. Otherwise it
// keeps the services running, restarting any that exits, until ctx ends, then stops them in
// reverse dependency order and forgets the stack's state.
func (s *Supervisor) Run(ctx context.Context, ready func(error)) error {
	p := s.Plan
	if err := os.MkdirAll(p.Project.LogDir(), 0o755); err != nil {
		return fmt.Errorf("create the log directory: %w", err)
	}
	s.rt = &Runtime{project: p.Project, logger: s.Logger, units: map[string]*unit{}, onChange: s.recordState}
	for _, svc := range p.Services {
		u, err := s.unitFor(svc)
		if err != nil {
			ready(err)
			return err
		}
		s.rt.units[svc.Name] = u
	}
	s.state = &stack.State{
		Runtime:    "local",
		PortOffset: p.PortOffset,
		StartedAt:  time.Now().UTC(),
		Supervisor: os.Getpid(),
		Notes: []string{
			"redis: " + p.RedisProgram(),
			"postgres data: " + p.PostgresData,
		},
	}
	s.recordState()

	engine := &stack.Engine{Runtime: s.rt, Events: s.Events}
	err := engine.Up(ctx, p.Services, s.Timeout)
	if err == nil {
		s.rt.Supervise()
		s.Logger.Info("stack is up")
	}
	ready(err)
	if err == nil {
		<-ctx.Done()
		s.Logger.Info("stopping the stack")
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	downErr := (&stack.Engine{Runtime: s.rt}).Down(stopCtx, p.Services)
	if rmErr := p.Project.RemoveState(); rmErr != nil {
		s.Logger.Error("forget the stack state", "err", rmErr.Error())
	}
	return errors.Join(err, downErr)
}

// recordState writes the supervisor's view of the services to the project's state file.
func (s *Supervisor) recordState() {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	if s.state == nil {
		return
	}
	s.state.Services = s.rt.snapshot()
	if err := s.Plan.Project.WriteState(s.state); err != nil {
		s.Logger.Error("record the stack state", "err", err.Error())
	}
}

// unitFor says how the service svc is run.
func (s *Supervisor) unitFor(svc stack.Service) (*unit, error) {
	p := s.Plan
	switch {
	case svc.Name == stack.Postgres:
		return s.postgresUnit(svc)
	case svc.Name == stack.Redis && p.RedisServer != "":
		args := []string{
			// "-": the rest of the configuration, the password, comes on standard input, so
			// that it shows in no process listing and in no file of its own.
			"-",
			"--port", strconv.Itoa(svc.HostPort), "--bind", stack.Host,
			// Budget and trial counters only: nothing worth writing to disk.
			"--save", "", "--appendonly", "no", "--daemonize", "no",
		}
		stdin := "requirepass " + p.Secrets.RedisPassword + "\n"
		return &unit{svc: svc, program: p.RedisServer, launch: s.commandLauncher(svc, p.RedisServer, args, nil, stdin)}, nil
	case svc.Name == stack.Redis:
		env := map[string]string{
			"ADDR":                stack.Host + ":" + strconv.Itoa(svc.HostPort),
			"REDIS_PASSWORD_FILE": p.Project.SecretPath(stack.SecretRedisPassword),
		}
		return &unit{svc: svc, program: "embedded", launch: s.commandLauncher(svc, p.Exe, []string{"serve", "redis"}, env, "")}, nil
	case svc.Name == stack.OPA:
		env := maps.Clone(svc.Env)
		env["OPA_MANAGEMENT_TOKEN_FILE"] = p.Project.SecretPath(stack.SecretOPAToken)
		return &unit{svc: svc, program: "waooaw serve opa", launch: s.commandLauncher(svc, p.Exe, []string{"serve", svc.Name}, env, "")}, nil
	case svc.Embedded:
		return &unit{svc: svc, program: "waooaw serve " + svc.Name, launch: s.commandLauncher(svc, p.Exe, []string{"serve", svc.Name}, svc.Env, "")}, nil
	}
	return nil, fmt.Errorf("the local runtime cannot run %s", svc.Name)
}

// commandLauncher runs program with args and env; stdin, when not empty, is its standard input.
func (s *Supervisor) commandLauncher(svc stack.Service, program string, args []string, env map[string]string, stdin string) launcher {
	return func(ctx context.Context) (*process, error) {
		out, err := openLog(s.Plan.Project.LogFile(svc.Name), svc.Name)
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(program, args...) // not CommandContext: it outlives the start
		cmd.Env = childEnv(s.Plan.Getenv, env)
		if stdin != "" {
			cmd.Stdin = strings.NewReader(stdin)
		}
		cmd.Dir = s.Plan.Project.Dir
		p, err := startCommand(cmd, out)
		if err != nil {
			out.Close()
			return nil, err
		}
		go func() { <-p.done; out.Close() }()
		return p, nil
	}
}

func (s *Supervisor) postgresUnit(svc stack.Service) (*unit, error) {
	p := s.Plan
	cluster, err := pgcluster.New(pgcluster.Config{
		DataDir:  p.PostgresData,
		Port:     svc.HostPort,
		User:     stack.DatabaseSuperuser,
		Password: p.Secrets.PostgresSuperuserPassword,
		Database: stack.DatabaseName,
		// The services connect as the application role, which owns the database and is no
		// superuser; data made by an earlier version, whose superuser was the services' role,
		// is converted on start.
		App:         pgcluster.Role{Name: stack.DatabaseUser, Password: p.Secrets.PostgresPassword},
		LegacyUsers: []string{stack.LegacyDatabaseSuperuser},
		LogFile:     p.Project.LogFile(svc.Name),
		Bin:         p.Postgres,
		// The time is in the line prefix, in UTC, so `waooaw logs` can order and filter it.
		Settings:       map[string]string{"log_line_prefix": "%m [%p] ", "log_timezone": "UTC"},
		StopWithParent: true,
	})
	if err != nil {
		return nil, err
	}
	launch := func(ctx context.Context) (*process, error) {
		if err := os.MkdirAll(filepath.Dir(p.PostgresData), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(p.PostgresData), err)
		}
		if err := cluster.Init(ctx); err != nil {
			return nil, err
		}
		began := time.Now()
		if err := cluster.Start(ctx); pgcluster.IsAuthFailure(err) {
			return nil, fmt.Errorf("%w: the data in %s has neither the superuser %q nor the %q of an earlier version; 'waooaw down --volumes' deletes it (and its data)",
				err, p.PostgresData, stack.DatabaseSuperuser, stack.LegacyDatabaseSuperuser)
		} else if err != nil {
			return nil, err
		}
		proc := &process{pid: cluster.PID(), done: make(chan struct{}), began: began, stop: cluster.Stop}
		go func() {
			proc.err = cluster.Wait()
			close(proc.done)
		}()
		return proc, nil
	}
	return &unit{svc: svc, program: "postgres " + p.Postgres.Version + " (" + p.Postgres.Dir + ")", launch: launch}, nil
}

// openLog opens a service's log for appending: every line a JSON object with its time, so
// `waooaw logs` can merge, filter and follow the services' logs.
func openLog(path, service string) (io.WriteCloser, error) {
	w, err := logs.NewFileWriter(path, service)
	if err != nil {
		return nil, fmt.Errorf("open the log of %s: %w", service, err)
	}
	return w, nil
}

// RemoveData deletes the project's local data (the PostgreSQL cluster).
func RemoveData(project *stack.Project) error {
	dir := filepath.Dir(postgresDataDir(project))
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", dir, err)
	}
	if parent := filepath.Dir(dir); parent != project.Dir {
		os.Remove(parent) // the project's folder under /var/lib/waooaw, once empty
	}
	return nil
}

// Alive reports whether pid is a running waooaw supervisor — `waooaw supervise`, or `waooaw up
// --foreground` — and not merely some process that reused the id.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return true // no /proc (macOS): trust the signal check
	}
	// A zombie has an empty command line: it is gone for our purposes.
	args := strings.Split(string(cmdline), "\x00")
	return slices.Contains(args, "supervise") || (slices.Contains(args, "up") && slices.Contains(args, "--foreground"))
}
