package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrPortInUse means another program listens on the cluster's port.
var ErrPortInUse = errors.New("port already in use")

// ErrDataDirInUse means another PostgreSQL server runs on the cluster's data directory.
var ErrDataDirInUse = errors.New("data directory in use by another PostgreSQL server")

const (
	readinessPoll = 20 * time.Millisecond
	// pingTimeout bounds one readiness attempt, so a server that exits meanwhile is noticed.
	pingTimeout = time.Second
	// quitGrace is how long an immediate shutdown (SIGQUIT) may take before SIGKILL.
	quitGrace = 5 * time.Second
	// logTailLines is how much of the server log a startup failure quotes.
	logTailLines = 20
)

// errNotStarted is returned by Wait before Start.
var errNotStarted = errors.New("pgcluster: server not started")

// duplicateDatabase is PostgreSQL's SQLSTATE for "database already exists".
const duplicateDatabase = "42P04"

// process is one run of the server.
type process struct {
	cmd       *exec.Cmd
	done      chan struct{} // closed once the process has exited and err is set
	err       error
	socketDir string // where this run's Unix socket is
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start runs the server as a child process that the caller owns (it is not daemonised),
// waits until it accepts connections and creates Config.Database if missing. A stale
// postmaster.pid left by a killed run does not stop it: PostgreSQL discards it when its
// process is gone. If the server cannot become ready, Start stops it before returning.
func (c *Cluster) Start(ctx context.Context) error {
	p, logOffset, err := c.spawn()
	if err != nil {
		return err
	}
	if err := c.waitReady(ctx, p, logOffset); err != nil {
		c.abandon(p)
		return err
	}
	switch {
	case c.cfg.App.Name != "":
		roles := Roles{Superuser: Role{c.cfg.User, c.cfg.Password}, Database: c.cfg.Database, App: c.cfg.App}
		for _, u := range c.cfg.LegacyUsers {
			roles.Legacy = append(roles.Legacy, Role{Name: u})
		}
		if err := Provision(ctx, c.socketConnector(p.socketDir), roles); err != nil {
			c.abandon(p)
			return err
		}
	case c.cfg.Database != "":
		if err := c.createDatabase(ctx, c.cfg.Database); err != nil {
			c.abandon(p)
			return err
		}
	}
	return nil
}

// socketConnector connects over the server's private Unix socket in dir, which trusts the
// local users that can enter the directory: the server's account, and root.
func (c *Cluster) socketConnector(dir string) Connector {
	return func(ctx context.Context, user, _, database string) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig("sslmode=disable")
		if err != nil {
			return nil, err
		}
		cfg.Host, cfg.Port, cfg.User, cfg.Database, cfg.Password = dir, uint16(c.cfg.Port), user, database, ""
		cfg.Fallbacks, cfg.TLSConfig = nil, nil
		return pgx.ConnectConfig(ctx, cfg)
	}
}

// spawn starts the server process and returns it with the log file's size before the start,
// where this run's log lines begin.
func (c *Cluster) spawn() (*process, int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil && !c.proc.exited() {
		return nil, 0, fmt.Errorf("postgres is already running on %s (pid %d)", c.cfg.DataDir, c.proc.cmd.Process.Pid)
	}
	if !c.initialised() {
		return nil, 0, fmt.Errorf("%s holds no PostgreSQL cluster: call Init before Start", c.cfg.DataDir)
	}
	if err := checkPortFree(c.cfg.Port); err != nil {
		return nil, 0, err
	}

	socketDir, removeSocketDir, err := c.prepareSocketDir()
	if err != nil {
		return nil, 0, err
	}
	logFile, logOffset, err := c.openLog()
	if err != nil {
		removeSocketDir()
		return nil, 0, err
	}
	defer logFile.Close() // the child holds its own descriptor

	args := append([]string{"-D", c.cfg.DataDir}, c.settings(socketDir)...)
	cmd := c.command(context.Background(), "postgres", args...) // outlives ctx: the caller stops it
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if c.cfg.StopWithParent {
		setParentDeathSignal(cmd.SysProcAttr, syscall.SIGINT)
	}
	if err := cmd.Start(); err != nil {
		removeSocketDir()
		return nil, 0, fmt.Errorf("start %s: %w", cmd.Path, err)
	}

	p := &process{cmd: cmd, done: make(chan struct{}), socketDir: socketDir}
	go func() {
		p.err = cmd.Wait()
		removeSocketDir()
		close(p.done)
	}()
	c.proc = p
	return p, logOffset, nil
}

// prepareSocketDir returns the private directory for the server's Unix socket, and how to
// clean it up once the server has exited.
func (c *Cluster) prepareSocketDir() (string, func(), error) {
	if c.socketDir != "" {
		return c.socketDir, func() {}, c.account.mkdir(c.socketDir, 0o700)
	}
	// The usual place makes too long a socket path; a short temporary directory will do.
	dir, err := os.MkdirTemp("", "pg")
	if err != nil {
		return "", nil, fmt.Errorf("create socket directory: %w", err)
	}
	remove := func() { os.RemoveAll(dir) }
	if err := c.account.chown(dir); err != nil {
		remove()
		return "", nil, err
	}
	return dir, remove, nil
}

func (c *Cluster) openLog() (*os.File, int64, error) {
	if err := os.MkdirAll(filepath.Dir(c.cfg.LogFile), 0o755); err != nil {
		return nil, 0, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(c.cfg.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open server log: %w", err)
	}
	info, err := f.Stat()
	if err == nil {
		err = c.account.chown(c.cfg.LogFile)
	}
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open server log: %w", err)
	}
	return f, info.Size(), nil
}

// checkPortFree fails early, and clearly, where the server would fail with a log line.
func checkPortFree(port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w: port %d on 127.0.0.1 is taken by another program; stop it or choose another port",
			ErrPortInUse, port)
	}
	if err != nil {
		return fmt.Errorf("check port %d: %w", port, err)
	}
	return l.Close()
}

// waitReady polls until the server accepts connections, failing at once if it exits.
func (c *Cluster) waitReady(ctx context.Context, p *process, logOffset int64) error {
	ticker := time.NewTicker(readinessPoll)
	defer ticker.Stop()
	for {
		if p.exited() {
			return c.startupFailure(p, logOffset)
		}
		attemptCtx, cancel := context.WithTimeout(ctx, pingTimeout)
		err := c.ping(attemptCtx, p.socketDir)
		cancel()
		// A server that answered while ours had already exited is somebody else's.
		if err == nil && !p.exited() {
			return nil
		}
		select {
		case <-p.done:
			return c.startupFailure(p, logOffset)
		case <-ctx.Done():
			return fmt.Errorf("postgres on port %d did not accept connections in time (last attempt: %v): %w",
				c.cfg.Port, err, ctx.Err())
		case <-ticker.C:
		}
	}
}

// ping connects over the private socket: a refused login (a data directory whose superuser is
// a legacy one, see LegacyUsers) still means the server accepts connections.
func (c *Cluster) ping(ctx context.Context, socketDir string) error {
	conn, err := c.socketConnector(socketDir)(ctx, c.cfg.User, "", "postgres")
	if IsAuthFailure(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// startupFailure explains why the server exited while we waited for it, quoting its log.
func (c *Cluster) startupFailure(p *process, logOffset int64) error {
	tail := logTail(c.cfg.LogFile, logOffset, logTailLines)
	kind := errors.New("postgres exited during startup")
	switch {
	case strings.Contains(tail, `lock file "postmaster.pid" already exists`):
		kind = fmt.Errorf("%w: another postgres is running on %s", ErrDataDirInUse, c.cfg.DataDir)
	case strings.Contains(tail, "Address already in use"):
		kind = fmt.Errorf("%w: postgres could not listen on 127.0.0.1 port %d", ErrPortInUse, c.cfg.Port)
	}
	return fmt.Errorf("%w (%v); last lines of %s:\n%s", kind, p.err, c.cfg.LogFile, tail)
}

// logTail returns the last n lines written to path after offset, or why it cannot.
func logTail(path string, offset int64, n int) string {
	const maxRead = 64 << 10
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size()-offset > maxRead {
		offset = info.Size() - maxRead
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err.Error()
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (c *Cluster) createDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	err = conn.QueryRow(ctx, "select exists (select 1 from pg_database where datname = $1)", name).Scan(&exists)
	if err == nil && !exists {
		_, err = conn.Exec(ctx, "create database "+pgx.Identifier{name}.Sanitize())
	}
	// Someone else may have created it since we looked; that is what we wanted.
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == duplicateDatabase {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}

// Stop shuts the server down: a fast shutdown (SIGINT: disconnect clients, checkpoint,
// exit), and if ctx ends first an immediate one (SIGQUIT, then SIGKILL). Only the server's
// own process is signalled; it stops its children itself. Stopping a stopped cluster is a no-op.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	p := c.proc
	c.mu.Unlock()
	if p == nil || p.exited() {
		return nil
	}
	return p.stop(ctx)
}

func (p *process) stop(ctx context.Context) error {
	pid := p.cmd.Process.Pid
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop postgres (pid %d): %w", pid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
	}
	p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(quitGrace):
		p.cmd.Process.Kill()
		<-p.done
	}
	return fmt.Errorf("postgres (pid %d) did not shut down in time and was stopped immediately: %w", pid, ctx.Err())
}

// abandon stops a server that Start could not get ready, so a failed Start leaves none behind.
func (c *Cluster) abandon(p *process) {
	ctx, cancel := context.WithTimeout(context.Background(), quitGrace)
	defer cancel()
	p.stop(ctx) // the caller reports why Start failed; how the server then stopped adds nothing
}

// Wait blocks until the server process exits and returns how it exited (nil after a clean
// shutdown). It is meant for a supervisor that restarts or reports a dead server.
func (c *Cluster) Wait() error {
	c.mu.Lock()
	p := c.proc
	c.mu.Unlock()
	if p == nil {
		return errNotStarted
	}
	<-p.done
	return p.err
}

// Running reports whether the server process started by Start is alive.
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc != nil && !c.proc.exited()
}

// PID returns the server's process id, or 0 when it is not running.
func (c *Cluster) PID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil || c.proc.exited() {
		return 0
	}
	return c.proc.cmd.Process.Pid
}
