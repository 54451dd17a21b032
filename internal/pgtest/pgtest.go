// Package pgtest gives tests real PostgreSQL: a fresh database per test, or a dedicated
// cluster for tests that stop and restart the server.
//
// Databases come from the server at WAOOAW_TEST_DATABASE_URL when it is set. Otherwise each
// test binary starts one throwaway cluster from the machine's PostgreSQL binaries (see
// pgcluster) on a free 127.0.0.1 port, and stops it when the tests end. A package using
// NewDatabase calls Run from its TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
//
// Without the binaries, tests skip with an install hint, except under CI=true where they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waooaw/waooaw/internal/pgcluster"
)

// DatabaseURLEnv names the variable pointing the tests at an existing server, as a
// postgres:// URL of a superuser (or a role allowed to create databases).
const DatabaseURLEnv = "WAOOAW_TEST_DATABASE_URL"

// ClusterDatabase is the database NewCluster's clusters start with.
const ClusterDatabase = "waooaw"

// The superuser of the clusters pgtest starts. They listen on 127.0.0.1 only and live as
// long as a test binary, so a fixed password is fine.
const (
	clusterUser     = "pgtest"
	clusterPassword = "pgtest"
)

const (
	// startTimeout guards against a server that never comes up; it is no speed assertion.
	startTimeout = 2 * time.Minute
	stopTimeout  = time.Minute
	// portAttempts covers the race between choosing a free port and the server binding it.
	portAttempts = 3
)

// shared is the one server a test binary's NewDatabase calls create databases in. It is
// package state because testing.M gives a test binary no other place to keep it.
var shared sharedServer

type sharedServer struct {
	inRun atomic.Bool // set by Run, which promises to stop the cluster at the end
	once  sync.Once

	// Set once by start.
	adminURL string
	cluster  *pgcluster.Cluster
	dir      string
	err      error
}

// Run runs the tests and then stops the shared cluster, if one was started, so no server
// outlives the test binary. It returns the exit code for os.Exit.
func Run(m *testing.M) int {
	shared.inRun.Store(true)
	code := m.Run()
	if err := shared.close(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// NewDatabase creates a fresh, empty database with a unique name for one test, returns its
// URL and drops it when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := shared.url(t)
	name := databaseName(t.Name())

	ctx := context.Background()
	if err := execAdmin(ctx, admin, "create database "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE: a connection the test left open must not keep the database alive.
		err := execAdmin(ctx, admin, "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)")
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// NewCluster starts a cluster of its own for one test, with ClusterDatabase created, and
// stops it when the test ends. It is for tests that stop and restart PostgreSQL.
func NewCluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	bin := Binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := startCluster(ctx, bin, TempDir(t), ClusterDatabase)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

// Binaries finds the machine's PostgreSQL server binaries, or skips the test with an
// install hint (fails it under CI=true).
func Binaries(t testing.TB) pgcluster.Binaries {
	t.Helper()
	bin, err := pgcluster.FindBinaries(os.Getenv)
	if err != nil {
		skipOrFail(t, err)
	}
	return bin
}

// FreePort returns a TCP port on 127.0.0.1 that was free when asked.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return port
}

// TempDir returns a new directory, removed when the test ends, that a server can keep its
// data in. When tests run as root the server runs as the postgres system user, which must
// be able to traverse it (t.TempDir and os.MkdirTemp make 0700 directories).
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := tempDir()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (s *sharedServer) url(t testing.TB) string {
	t.Helper()
	if !s.inRun.Load() {
		t.Fatal("pgtest: NewDatabase needs pgtest.Run: add func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }")
	}
	s.once.Do(s.start)
	if errors.Is(s.err, pgcluster.ErrBinariesNotFound) {
		skipOrFail(t, s.err)
	}
	if s.err != nil {
		t.Fatalf("pgtest: %v", s.err)
	}
	return s.adminURL
}

func (s *sharedServer) start() {
	if raw := os.Getenv(DatabaseURLEnv); raw != "" {
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			s.err = fmt.Errorf("%s must be a postgres:// URL", DatabaseURLEnv)
			return
		}
		s.adminURL = raw
		return
	}
	bin, err := pgcluster.FindBinaries(os.Getenv)
	if err != nil {
		s.err = err
		return
	}
	if s.dir, s.err = tempDir(); s.err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if s.cluster, s.err = startCluster(ctx, bin, s.dir, ""); s.err != nil {
		return
	}
	s.adminURL = s.cluster.URL("postgres")
}

func (s *sharedServer) close() error {
	var err error
	if s.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		err = s.cluster.Stop(ctx)
	}
	if s.dir != "" {
		err = errors.Join(err, os.RemoveAll(s.dir))
	}
	return err
}

// startCluster initialises and starts a cluster in dir on a free port.
func startCluster(ctx context.Context, bin pgcluster.Binaries, dir, database string) (*pgcluster.Cluster, error) {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		c, err := pgcluster.New(pgcluster.Config{
			DataDir:        filepath.Join(dir, "data"),
			Port:           port,
			User:           clusterUser,
			Password:       clusterPassword,
			Database:       database,
			LogFile:        filepath.Join(dir, "postgres.log"),
			Bin:            bin,
			StopWithParent: true, // a crashed or timed-out test binary leaves no server behind
		})
		if err != nil {
			return nil, err
		}
		if err := c.Init(ctx); err != nil {
			return nil, err
		}
		err = c.Start(ctx)
		if errors.Is(err, pgcluster.ErrPortInUse) && attempt < portAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

func tempDir() (string, error) {
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return "", fmt.Errorf("create temp dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("create temp dir: %w", err)
	}
	return dir, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("pgtest: %v", err)
	}
	t.Skipf("pgtest: %v", err)
}

func execAdmin(ctx context.Context, adminURL, sql string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// databaseName makes a unique database name that says which test it belongs to.
func databaseName(testName string) string {
	const maxTestPart = 40 // identifiers stop at 63 bytes
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if b.Len() == maxTestPart {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	return "test_" + b.String() + "_" + hex.EncodeToString(suffix)
}

// withDatabase returns adminURL pointing at database instead.
func withDatabase(adminURL, database string) string {
	u, err := url.Parse(adminURL)
	if err != nil {
		panic(fmt.Sprintf("pgtest: admin URL was checked at start: %v", err)) // unreachable
	}
	u.Path = "/" + database
	u.RawPath = ""
	return u.String()
}
