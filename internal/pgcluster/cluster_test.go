package pgcluster_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/waooaw/waooaw/internal/pgcluster"
	"github.com/waooaw/waooaw/internal/pgtest"
)

func TestNewRejectsBadConfig(t *testing.T) {
	valid := pgcluster.Config{
		DataDir: "/tmp/data", Port: 5432, User: "u", Password: "p",
		Bin: pgcluster.Binaries{Dir: "/usr/lib/postgresql/15/bin"},
	}
	tests := []struct {
		name   string
		change func(*pgcluster.Config)
		want   string
	}{
		{"no data dir", func(c *pgcluster.Config) { c.DataDir = "" }, "DataDir"},
		{"port zero", func(c *pgcluster.Config) { c.Port = 0 }, "Port 0"},
		{"port too high", func(c *pgcluster.Config) { c.Port = 70000 }, "Port 70000"},
		{"no user", func(c *pgcluster.Config) { c.User = "" }, "User"},
		{"no password", func(c *pgcluster.Config) { c.Password = "" }, "Password"},
		{"no binaries", func(c *pgcluster.Config) { c.Bin = pgcluster.Binaries{} }, "FindBinaries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)
			_, err := pgcluster.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: err = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestLifecycleKeepsData(t *testing.T) {
	t.Parallel()
	c := newCluster(t, pgtest.TempDir(t), pgtest.FreePort(t))
	ctx := context.Background()

	initAndStart(t, c)
	if !c.Running() || c.PID() == 0 {
		t.Fatalf("after Start: Running() = %v, PID() = %d", c.Running(), c.PID())
	}
	exec1(t, c.URL("waooaw"), "select 1")
	exec1(t, c.URL("waooaw"), "create table kept (v text); insert into kept values ('still here')")

	pid := c.PID()
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if c.Running() || c.PID() != 0 {
		t.Errorf("after Stop: Running() = %v, PID() = %d", c.Running(), c.PID())
	}
	if err := c.Wait(); err != nil {
		t.Errorf("Wait after a clean stop: %v", err)
	}
	if processAlive(pid) {
		t.Errorf("postgres pid %d still alive after Stop", pid)
	}

	// Init again must reuse the data dir, not recreate it.
	initAndStart(t, c)
	var v string
	queryRow(t, c.URL("waooaw"), "select v from kept", &v)
	if v != "still here" {
		t.Errorf("after restart read %q, want %q", v, "still here")
	}
}

func TestStartPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	c := newCluster(t, pgtest.TempDir(t), port)
	if err := c.Init(context.Background()); err != nil {
		t.Fatalf("Init: %v", err)
	}

	err = c.Start(context.Background())
	if !errors.Is(err, pgcluster.ErrPortInUse) {
		t.Fatalf("Start: err = %v, want ErrPortInUse", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Errorf("error %q does not name port %d", err, port)
	}
	if c.Running() {
		t.Error("Running() after a failed Start")
	}
}

func TestStartDataDirInUse(t *testing.T) {
	t.Parallel()
	dir := pgtest.TempDir(t)
	first := newCluster(t, dir, pgtest.FreePort(t))
	initAndStart(t, first)

	second := newCluster(t, dir, pgtest.FreePort(t))
	err := second.Start(context.Background())
	if !errors.Is(err, pgcluster.ErrDataDirInUse) {
		t.Fatalf("Start on a data dir in use: err = %v, want ErrDataDirInUse", err)
	}
	// The server exited during startup: the error quotes its log rather than timing out.
	if !strings.Contains(err.Error(), "postmaster.pid") {
		t.Errorf("error %q does not quote the server log", err)
	}
	exec1(t, first.URL("waooaw"), "select 1")
}

func TestStopLeavesOtherProcessesRunning(t *testing.T) {
	t.Parallel()
	stopped := newCluster(t, pgtest.TempDir(t), pgtest.FreePort(t))
	other := newCluster(t, pgtest.TempDir(t), pgtest.FreePort(t))
	initAndStart(t, stopped)
	initAndStart(t, other)
	sibling := exec.Command("sleep", "600")
	if err := sibling.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sibling.Process.Kill(); sibling.Wait() })

	if err := stopped.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	exec1(t, other.URL("waooaw"), "select 1")
	var status syscall.WaitStatus
	if pid, err := syscall.Wait4(sibling.Process.Pid, &status, syscall.WNOHANG, nil); pid != 0 || err != nil {
		t.Errorf("a process Stop does not own has exited (%v, %v)", status, err)
	}
}

func TestStopEscalatesWhenContextEnds(t *testing.T) {
	t.Parallel()
	c := newCluster(t, pgtest.TempDir(t), pgtest.FreePort(t))
	initAndStart(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := c.Stop(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Stop: err = %v, want nil or one wrapping context.Canceled", err)
	}
	if c.Running() {
		t.Error("Running() after Stop with an ended context")
	}
}

func TestStartIgnoresStalePIDFile(t *testing.T) {
	t.Parallel()
	c := newCluster(t, pgtest.TempDir(t), pgtest.FreePort(t))
	initAndStart(t, c)
	pidFile := filepath.Join(c.DataDir(), "postmaster.pid")
	content, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	// What a killed server leaves behind: its pid file, naming a process that is gone.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(content), "\n")
	stale := strconv.Itoa(gone.Process.Pid) + "\n" + rest
	if err := os.WriteFile(pidFile, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	owner := statOwner(t, c.DataDir())
	if err := os.Chown(pidFile, owner.Uid, owner.Gid); err != nil {
		t.Fatal(err)
	}

	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("Start over a stale postmaster.pid: %v", err)
	}
	exec1(t, c.URL("waooaw"), "select 1")
}

func newCluster(t *testing.T, dir string, port int) *pgcluster.Cluster {
	t.Helper()
	c, err := pgcluster.New(pgcluster.Config{
		DataDir:        filepath.Join(dir, "data"),
		Port:           port,
		User:           "tester",
		Password:       "secret with spaces & symbols:@/",
		Database:       "waooaw",
		Bin:            pgtest.Binaries(t),
		StopWithParent: true,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("Stop at cleanup: %v", err)
		}
	})
	return c
}

func initAndStart(t *testing.T, c *pgcluster.Cluster) {
	t.Helper()
	if err := c.Init(context.Background()); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func exec1(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryRow(t *testing.T, url, sql string, dest ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

type owner struct{ Uid, Gid int }

func statOwner(t *testing.T, path string) owner {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	return owner{int(st.Uid), int(st.Gid)}
}

// As root the server runs as the postgres account, which may not enter the directory of the
// log (root's home): the log is opened by us and inherited, so that must not matter.
func TestLogFileWhereTheServerAccountCannotGo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to another account")
	}
	private := t.TempDir()
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	c, err := pgcluster.New(pgcluster.Config{
		DataDir:        filepath.Join(pgtest.TempDir(t), "data"),
		LogFile:        filepath.Join(private, "logs", "postgres.log"),
		Port:           pgtest.FreePort(t),
		User:           "tester",
		Password:       "secret",
		Bin:            pgtest.Binaries(t),
		StopWithParent: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	initAndStart(t, c)
	data, err := os.ReadFile(filepath.Join(private, "logs", "postgres.log"))
	if err != nil || !strings.Contains(string(data), "ready to accept connections") {
		t.Errorf("server log in the private directory: %v, %q", err, data)
	}
}
