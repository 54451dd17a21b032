// Package pgcluster owns a private PostgreSQL cluster run from the machine's own server
// binaries: finding them, creating the data directory, starting the server as a child process,
// waiting until it accepts connections, and stopping it. The test harness and the local runtime
// both use it.
//
// PostgreSQL refuses to run as root. When we are root, the server programs run as the
// "postgres" system user that distribution packages create, and the directories they write
// are handed to that user.
package pgcluster

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Config describes one cluster.
type Config struct {
	// DataDir is created and initialised by Init when it holds no cluster yet (no PG_VERSION),
	// and reused otherwise.
	DataDir string
	// Port is the TCP port the server listens on, on 127.0.0.1 only.
	Port int
	// User and Password are the superuser initdb creates. TCP connections authenticate with
	// scram-sha-256; the private Unix socket (a directory only the server's account may enter)
	// trusts local users.
	User, Password string
	// Database is created after the first start when it does not exist; empty creates none.
	Database string
	// App, when its Name is set, is the application role that Start provisions on every start
	// (see Provision) over the private socket: a login role with App.Password that owns
	// Database and is no superuser. Clients then connect as App, and User stays the bootstrap
	// superuser that only provisions.
	App Role
	// LegacyUsers are bootstrap superusers that an earlier version of the caller made instead
	// of User; Start converts such a cluster to User (see Roles.Legacy). Needs App.
	LegacyUsers []string
	// LogFile receives the server's log. Empty means "postgres.log" beside DataDir.
	LogFile string
	// Bin holds the server programs (see FindBinaries).
	Bin Binaries
	// Settings are extra server settings (-c name=value), applied over DefaultSettings.
	Settings map[string]string
	// StopWithParent asks the kernel (Linux only) to stop the server when the thread that
	// started it exits, so a test binary that crashes or times out leaves no server behind.
	StopWithParent bool
}

// DefaultSettings returns the server settings a cluster starts with: tuned for development
// and tests, trading crash safety of the newest writes for speed.
func DefaultSettings() map[string]string {
	return map[string]string{
		"fsync":              "off",
		"synchronous_commit": "off",
		"full_page_writes":   "off",
		"max_connections":    "200",
		"shared_buffers":     "32MB",
	}
}

// maxSocketPath is the longest Unix socket path the kernel accepts (sun_path less its NUL).
const maxSocketPath = 103

// Cluster is one PostgreSQL cluster. Its methods are safe for concurrent use.
type Cluster struct {
	cfg     Config
	account *account // nil: run the server programs as ourselves
	// socketDir is where the server puts its Unix socket; empty means a short temporary
	// directory per start, because the one beside DataDir would be too long a path.
	socketDir string

	mu   sync.Mutex
	proc *process // the running (or last) server; nil before the first Start
}

// New validates cfg and returns a cluster that is neither initialised nor started.
func New(cfg Config) (*Cluster, error) {
	var problems []string
	if cfg.DataDir == "" {
		problems = append(problems, "DataDir is empty")
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		problems = append(problems, fmt.Sprintf("Port %d is not in 1-65535", cfg.Port))
	}
	if cfg.User == "" {
		problems = append(problems, "User is empty")
	}
	if cfg.Password == "" {
		problems = append(problems, "Password is empty")
	}
	if cfg.Bin.Dir == "" {
		problems = append(problems, "Bin.Dir is empty (use FindBinaries)")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("pgcluster config: %s", strings.Join(problems, "; "))
	}

	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster config: DataDir: %w", err)
	}
	cfg.DataDir = dataDir
	if cfg.LogFile == "" {
		cfg.LogFile = filepath.Join(filepath.Dir(dataDir), "postgres.log")
	}
	if cfg.LogFile, err = filepath.Abs(cfg.LogFile); err != nil {
		return nil, fmt.Errorf("pgcluster config: LogFile: %w", err)
	}
	cfg.Settings = maps.Clone(cfg.Settings)

	acct, err := serverAccount(os.Geteuid())
	if err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, account: acct}
	socketDir := filepath.Join(filepath.Dir(dataDir), "run")
	if len(socketPath(socketDir, cfg.Port)) <= maxSocketPath {
		c.socketDir = socketDir
	}
	return c, nil
}

func socketPath(dir string, port int) string {
	return filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
}

// Init creates the data directory with initdb (locale C, encoding UTF8) unless it already
// holds a cluster.
func (c *Cluster) Init(ctx context.Context) error {
	if c.initialised() {
		return nil
	}
	// Only the data directory: the server never opens LogFile by name, it inherits the
	// descriptor we open (so the log may live where the account cannot go, e.g. under /root).
	if err := c.account.checkReachable(c.cfg.DataDir); err != nil {
		return err
	}
	if err := c.account.mkdir(c.cfg.DataDir, 0o700); err != nil {
		return err
	}

	// initdb reads the password from a file so it never shows in a process listing. The
	// file sits beside the data dir: initdb wants the data dir itself empty.
	pwfile, err := os.CreateTemp(filepath.Dir(c.cfg.DataDir), ".pwfile-*")
	if err != nil {
		return fmt.Errorf("write initdb password file: %w", err)
	}
	defer os.Remove(pwfile.Name())
	_, err = pwfile.WriteString(c.cfg.Password + "\n")
	if closeErr := pwfile.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("write initdb password file: %w", err)
	}
	if err := c.account.chown(pwfile.Name()); err != nil {
		return err
	}

	cmd := c.command(ctx, "initdb",
		"--pgdata", c.cfg.DataDir,
		"--username", c.cfg.User,
		"--pwfile", pwfile.Name(),
		"--auth-local", "trust",
		"--auth-host", "scram-sha-256",
		"--encoding", "UTF8",
		"--locale", "C",
		"--no-sync", // a crash right after initdb costs a throwaway cluster; saves seconds
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", c.cfg.DataDir, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (c *Cluster) initialised() bool {
	_, err := os.Stat(filepath.Join(c.cfg.DataDir, "PG_VERSION"))
	return err == nil
}

// command prepares one of the server programs to run as the cluster's account.
func (c *Cluster) command(ctx context.Context, program string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.cfg.Bin.Dir, program), args...)
	// The programs look up their own path relative to the working directory, which the
	// account may not be allowed to read (root's home, say).
	cmd.Dir = "/"
	cmd.Env = c.account.env(serverEnv(os.Environ()))
	cmd.SysProcAttr = c.account.sysProcAttr()
	return cmd
}

// serverEnv drops libpq's PG* variables: PGDATA, PGPORT and friends would otherwise change
// which cluster the programs act on.
func serverEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
}

// settings returns the -c arguments for the server, in a stable order.
func (c *Cluster) settings(socketDir string) []string {
	all := DefaultSettings()
	maps.Copy(all, c.cfg.Settings)
	// Ours last: the cluster is only reachable where we say it is.
	maps.Copy(all, map[string]string{
		"listen_addresses":        "127.0.0.1",
		"port":                    strconv.Itoa(c.cfg.Port),
		"unix_socket_directories": `"` + socketDir + `"`, // quoted: a list, and paths may hold spaces
		"logging_collector":       "off",
	})
	var args []string
	for _, name := range slices.Sorted(maps.Keys(all)) {
		args = append(args, "-c", name+"="+all[name])
	}
	return args
}

// URL returns the connection URL of database for the superuser, over TCP.
func (c *Cluster) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.cfg.User, c.cfg.Password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.cfg.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the cluster listens on.
func (c *Cluster) Port() int { return c.cfg.Port }

// DataDir returns the absolute data directory.
func (c *Cluster) DataDir() string { return c.cfg.DataDir }

// LogFile returns the absolute path of the server log.
func (c *Cluster) LogFile() string { return c.cfg.LogFile }
