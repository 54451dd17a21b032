// Package redistest gives tests a real Redis: a private redis-server per test, or the
// server at WAOOAW_TEST_REDIS_URL when that is set.
//
// Every test also gets its own key prefix (Server.Prefix), so tests that share a server
// never see each other's keys. Without redis-server on PATH, tests skip with an install
// hint, except under CI=true where they fail.
package redistest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URLEnv names the variable pointing the tests at an existing server, as a redis:// URL.
const URLEnv = "WAOOAW_TEST_REDIS_URL"

const installHint = "install redis-server: apt-get install redis-server (Debian/Ubuntu) or brew install redis (macOS)"

const (
	// startTimeout guards against a server that never comes up; it is no speed assertion.
	startTimeout = 30 * time.Second
	// stopGrace is how long a SIGTERM may take before SIGKILL.
	stopGrace    = 10 * time.Second
	readyPoll    = 10 * time.Millisecond
	pingTimeout  = time.Second
	portAttempts = 3 // covers the race between choosing a free port and the server binding it
	logTailBytes = 2048
)

var errPortInUse = errors.New("port already in use")

// Server is one test's Redis.
type Server struct {
	addr   string
	url    string
	prefix string

	// Set for a private server only.
	bin, dir string
	proc     *process // nil while stopped
}

// process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// New starts a private redis-server for the test on a free 127.0.0.1 port, without
// persistence, and stops it when the test ends. With WAOOAW_TEST_REDIS_URL set it uses that
// server instead and deletes the test's keys (those under Prefix) when the test ends; it
// does not FLUSHDB, because other test binaries may be using the same server at once.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{prefix: newPrefix()}
	if raw := os.Getenv(URLEnv); raw != "" {
		s.useExternal(t, raw)
		return s
	}

	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redistest: " + installHint)
		}
		t.Skip("redistest: " + installHint)
	}
	s.bin, s.dir = bin, t.TempDir()
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.url = "redis://" + s.addr + "/0"
		err = s.start()
		if errors.Is(err, errPortInUse) && attempt < portAttempts {
			continue
		}
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		break
	}
	// Registered after t.TempDir's cleanup, so it runs first: the server stops before its
	// directory goes.
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("redistest: %v", err)
		}
	})
	return s
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL returns the server's redis:// URL, e.g. redis://127.0.0.1:41234/0.
func (s *Server) URL() string { return s.url }

// Prefix returns a key prefix unique to the test, ending in ':'.
func (s *Server) Prefix() string { return s.prefix }

// Stop stops a private server and waits for it to exit; the port stays reserved for Start.
// It skips the test on a server from WAOOAW_TEST_REDIS_URL, which is not ours to stop.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.bin == "" {
		t.Skipf("redistest: stopping Redis needs a private redis-server; unset %s", URLEnv)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

// Start starts a stopped private server again on the same port and waits until it answers
// PING. Data does not survive: the server keeps none on disk.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if s.bin == "" {
		t.Skipf("redistest: restarting Redis needs a private redis-server; unset %s", URLEnv)
	}
	if s.proc != nil {
		t.Fatalf("redistest: redis-server on %s is already running", s.addr)
	}
	if err := s.start(); err != nil {
		t.Fatalf("redistest: %v", err)
	}
}

func (s *Server) useExternal(t testing.TB, raw string) {
	t.Helper()
	opts, err := redis.ParseURL(raw)
	if err != nil {
		// Not err itself: it may quote the URL, password included.
		t.Fatalf("redistest: %s must be a redis:// URL", URLEnv)
	}
	s.addr, s.url = opts.Addr, raw
	t.Cleanup(func() {
		if err := deleteKeys(opts, s.prefix); err != nil {
			t.Errorf("redistest: delete the test's keys: %v", err)
		}
	})
}

// deleteKeys removes every key under prefix.
func deleteKeys(opts *redis.Options, prefix string) error {
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := rdb.Unlink(ctx, iter.Val()).Err(); err != nil {
			return err
		}
	}
	return iter.Err()
}

func (s *Server) start() error {
	logPath := filepath.Join(s.dir, "redis.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	info, err := logFile.Stat()
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	logOffset := info.Size()

	_, port, _ := net.SplitHostPort(s.addr)
	cmd := exec.Command(s.bin,
		"--port", port,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	// A crashed or timed-out test binary must leave no server behind.
	setParentDeathSignal(cmd.SysProcAttr, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	if err := s.waitReady(p); err != nil {
		s.stop()
		log := logTail(logPath, logOffset)
		if strings.Contains(log, "Address already in use") {
			return fmt.Errorf("redis-server on %s: %w", s.addr, errPortInUse)
		}
		return fmt.Errorf("redis-server on %s: %w; log:\n%s", s.addr, err, log)
	}
	return nil
}

func (s *Server) waitReady(p *process) error {
	deadline := time.Now().Add(startTimeout)
	for {
		if p.exited() {
			return fmt.Errorf("exited during start (%v)", p.cmd.ProcessState)
		}
		err := ping(s.addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", startTimeout, err)
		}
		time.Sleep(readyPoll)
	}
}

// stop ends the server, if it runs, and waits for it to exit.
func (s *Server) stop() error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if p.exited() {
		return nil
	}
	// SIGTERM: with no persistence configured the server exits without saving.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !p.exited() {
		return fmt.Errorf("stop redis-server on %s: %w", s.addr, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("redis-server on %s ignored SIGTERM for %v and was killed", s.addr, stopGrace)
}

// ping sends one PING over a plain connection: a readiness probe needs no client pool.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, pingTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(pingTimeout))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the end of what the server logged since offset.
func logTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	b = b[offset:]
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
	}
	return string(b)
}

func newPrefix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "test:" + hex.EncodeToString(b) + ":"
}
