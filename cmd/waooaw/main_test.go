package main

// End-to-end tests of the waooaw binary on the local runtime: they build the binary, bring a
// real stack up (PostgreSQL from the machine's server programs, redis-server or the embedded
// server, and waooaw's own services), and drive it as a user would.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/pgcluster"
	"github.com/waooaw/waooaw/internal/stack"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "waooaw-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "waooaw")
	build := exec.Command("go", "build", "-o", binary, ".")
	// Static, as `make build` makes it: the Docker runtime puts it in a FROM scratch image.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build waooaw:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requirePostgres fails under CI=true, and skips elsewhere, when the server programs are absent.
func requirePostgres(t *testing.T) {
	t.Helper()
	if _, err := pgcluster.FindBinaries(os.Getenv); err != nil {
		msg := "PostgreSQL server programs not found: apt-get install postgresql (Debian/Ubuntu) or brew install postgresql@15"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// sandbox is one project in a private state directory on ports no one else uses.
type sandbox struct {
	t       *testing.T
	state   string
	project string
	offset  int
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	requirePostgres(t)
	state := t.TempDir()
	// As root, PostgreSQL runs as the postgres user, which must reach the data directory.
	for d := state; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	sb := &sandbox{t: t, state: state, project: fmt.Sprintf("e2e-%d", rand.IntN(1e6))}
	for range 50 {
		sb.offset = 10000 + rand.IntN(40000)
		svcs, err := stack.Services(stack.Config{PortOffset: sb.offset})
		if err != nil {
			continue
		}
		var claims []stack.PortClaim
		for _, s := range svcs {
			claims = append(claims, stack.PortClaim{Service: s.Name, Host: stack.Host, Port: s.HostPort})
		}
		if stack.CheckPortsFree(claims) == nil {
			break
		}
	}
	t.Cleanup(func() {
		// Whatever the test did, leave no stack behind.
		sb.run("down", "--volumes")
	})
	return sb
}

func (sb *sandbox) env() []string {
	return append(os.Environ(), "XDG_STATE_HOME="+sb.state, "WAOOAW_PROJECT="+sb.project, "NO_COLOR=1")
}

// run runs waooaw and returns its exit code, stdout and stderr.
func (sb *sandbox) run(args ...string) (int, string, string) {
	sb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang guard, not a speed test
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = sb.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		sb.t.Fatalf("run waooaw %v: %v", args, err)
	}
	return code, stdout.String(), stderr.String()
}

func (sb *sandbox) mustRun(args ...string) string {
	sb.t.Helper()
	code, stdout, stderr := sb.run(args...)
	if code != 0 {
		sb.t.Fatalf("waooaw %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

type statusJSON struct {
	Healthy       bool `json:"healthy"`
	SupervisorPID int  `json:"supervisor_pid"`
	Services      []struct {
		Service  string `json:"service"`
		State    string `json:"state"`
		URL      string `json:"url"`
		PID      int    `json:"pid"`
		Restarts int    `json:"restarts"`
	} `json:"services"`
}

func (sb *sandbox) status() (int, statusJSON) {
	sb.t.Helper()
	code, stdout, stderr := sb.run("status", "-o", "json")
	var st statusJSON
	if code == 0 || code == 1 {
		if err := json.Unmarshal([]byte(stdout), &st); err != nil {
			sb.t.Fatalf("status -o json: %v\n%s\n%s", err, stdout, stderr)
		}
	}
	return code, st
}

func (sb *sandbox) url(service string) string {
	svcs, _ := stack.Services(stack.Config{PortOffset: sb.offset})
	for _, s := range svcs {
		if s.Name == service {
			return s.URL()
		}
	}
	sb.t.Fatalf("no service %s", service)
	return ""
}

func (sb *sandbox) get(url, token string) (int, string) {
	sb.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		sb.t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}

// waitUntil polls cond; the deadline only guards against a hang.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLocalStackLifecycle(t *testing.T) {
	sb := newSandbox(t)
	off := fmt.Sprint(sb.offset)

	// up brings all seven up and prints their URLs.
	stdout := sb.mustRun("up", "--port-offset", off)
	for _, name := range stack.Names() {
		if !strings.Contains(stdout, name) {
			t.Errorf("up output lacks %s:\n%s", name, stdout)
		}
	}
	code, st := sb.status()
	if code != 0 || !st.Healthy || len(st.Services) != 7 {
		t.Fatalf("status after up: exit %d, %+v", code, st)
	}

	// up again changes nothing and says so.
	_, _, stderr := sb.run("up")
	if !strings.Contains(stderr, "already up") {
		t.Errorf("second up: stderr %q, want 'already up'", stderr)
	}
	if _, again := sb.status(); again.SupervisorPID != st.SupervisorPID {
		t.Errorf("second up replaced the supervisor: %d → %d", st.SupervisorPID, again.SupervisorPID)
	}

	// verify: the ten checks pass; the full suite passes twice on the same stack; the reports
	// are written and hold no token.
	sb.mustRun("verify")
	reports := t.TempDir()
	for run := 1; run <= 2; run++ {
		sb.mustRun("verify", "--suite", "full", "--report-junit", filepath.Join(reports, "v.xml"), "--report-json", filepath.Join(reports, "v.json"), "--report-markdown", filepath.Join(reports, "v.md"))
	}
	for _, name := range []string{"v.xml", "v.json", "v.md"} {
		data, err := os.ReadFile(filepath.Join(reports, name))
		if err != nil || len(data) == 0 {
			t.Fatalf("report %s: %v", name, err)
		}
		if strings.Contains(string(data), "eyJ") {
			t.Errorf("report %s holds a token", name)
		}
	}

	// Pointed at URLs where nothing answers, verify finds no stack (exit 3) and leaves this
	// project's database alone: only --database-url names the database of another stack.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	code, stdout, stderr = sb.run("verify", "-o", "json", "--cp-url", dead, "--pp-url", dead, "--gateway-url", dead, "--backend-url", dead)
	if code != 3 || !strings.Contains(stderr, "no stack answered") {
		t.Errorf("verify of URLs where nothing answers: exit %d, stderr %q; want 3", code, stderr)
	}
	var rep struct {
		Results []struct{ ID, Outcome, Message string } `json:"results"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("verify -o json: %v\n%s", err, stdout)
	}
	for _, r := range rep.Results {
		if r.ID == "database" && (r.Outcome != "skipped" || !strings.Contains(r.Message, "--database-url")) {
			t.Errorf("database check against other URLs: %s %q; want skipped for want of --database-url", r.Outcome, r.Message)
		}
	}

	// A minted token works through CP.
	tok := strings.TrimSpace(sb.mustRun("token", "mint"))
	if code, body := sb.get(sb.url(stack.CP)+"/api/agents", tok); code != http.StatusOK || !strings.Contains(body, `"items"`) {
		t.Fatalf("GET /api/agents via CP: %d %s", code, body)
	}
	if code, _ := sb.get(sb.url(stack.CP)+"/api/agents", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /api/agents via CP without token: %d, want 401", code)
	}

	// logs: every service has lines; one request's lines from all three hops; JSON per line.
	req, _ := http.NewRequest(http.MethodGet, sb.url(stack.CP)+"/api/agents", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Correlation-ID", "e2e-corr-42")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	all := sb.mustRun("logs")
	for _, name := range stack.Names() {
		if !strings.Contains(all, name) {
			t.Errorf("logs show nothing of %s", name)
		}
	}
	var hops []string
	waitUntil(t, "the request's log lines", func() bool {
		hops = hops[:0]
		for _, line := range strings.Split(strings.TrimSpace(sb.mustRun("logs", "--correlation-id", "e2e-corr-42", "-o", "json")), "\n") {
			var entry struct {
				Service       string `json:"service"`
				CorrelationID string `json:"correlation_id"`
			}
			if err := json.Unmarshal([]byte(line), &entry); err != nil {
				t.Fatalf("logs -o json line %q: %v", line, err)
			}
			if entry.CorrelationID != "e2e-corr-42" {
				t.Fatalf("--correlation-id let through %q", line)
			}
			hops = append(hops, entry.Service)
		}
		return len(hops) == 3
	})
	for _, want := range []string{"cp-proxy", "gateway", "backend"} {
		if !slices.Contains(hops, want) {
			t.Errorf("the request's lines come from %v, want %s among them", hops, want)
		}
	}
	if out := sb.mustRun("logs", "postgres", "--tail", "1", "-o", "json"); strings.Count(out, "\n") != 1 || !strings.Contains(out, `"time"`) {
		t.Errorf("logs postgres --tail 1 -o json = %q, want one line with its time", out)
	}

	// logs -f picks up a request made after it started, then ends on SIGINT.
	follow := exec.Command(binary, "logs", "-f", "--tail", "0")
	follow.Env = sb.env()
	var followed syncBuffer
	follow.Stdout = &followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "logs -f to show a new request", func() bool {
		req, _ := http.NewRequest(http.MethodGet, sb.url(stack.PP)+"/api/agents", nil)
		req.Header.Set("X-Correlation-ID", "e2e-follow")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		return strings.Count(followed.String(), "e2e-follow") >= 2 // pp and gateway at least
	})
	follow.Process.Signal(os.Interrupt)
	if err := follow.Wait(); follow.ProcessState == nil || follow.ProcessState.ExitCode() != 130 {
		t.Errorf("logs -f after SIGINT: %v; want exit 130", err)
	}

	// A killed gateway is restarted by the supervisor, and status shows it.
	var gwPID int
	for _, s := range st.Services {
		if s.Service == stack.Gateway {
			gwPID = s.PID
		}
	}
	if gwPID == 0 {
		t.Fatal("status gives no gateway pid")
	}
	if err := syscall.Kill(gwPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the gateway to be restarted", func() bool {
		code, st := sb.status()
		for _, s := range st.Services {
			if s.Service == stack.Gateway {
				return code == 0 && s.Restarts == 1 && s.PID != gwPID && s.State == "healthy"
			}
		}
		return false
	})

	// down leaves no process of the stack behind.
	_, final := sb.status()
	sb.mustRun("down")
	for _, s := range final.Services {
		if s.PID > 0 && syscall.Kill(s.PID, 0) == nil && !isZombie(s.PID) {
			t.Errorf("%s (pid %d) still runs after down", s.Service, s.PID)
		}
	}
	for _, cmd := range []string{"status", "verify"} {
		if code, _, stderr := sb.run(cmd); code != 3 || !strings.Contains(stderr, "waooaw up") {
			t.Errorf("%s after down: exit %d, stderr %q; want 3 with a hint", cmd, code, stderr)
		}
	}
}

func TestLocalStackKeepsDataAcrossDownAndFreshSeedAfterVolumes(t *testing.T) {
	sb := newSandbox(t)
	off := fmt.Sprint(sb.offset)
	sb.mustRun("up", "--port-offset", off)
	tok := strings.TrimSpace(sb.mustRun("token", "mint"))

	// Create a trial, then take the stack down and up again.
	trialID := createTrial(t, sb, tok)

	sb.mustRun("down")
	sb.mustRun("up", "--port-offset", off)
	if _, trials := sb.get(sb.url(stack.CP)+"/api/trials", tok); !strings.Contains(trials, trialID) {
		t.Fatalf("after down and up the trial is gone: %s", trials)
	}

	sb.mustRun("down", "--volumes")
	sb.mustRun("up", "--port-offset", off)
	if _, trials := sb.get(sb.url(stack.CP)+"/api/trials", tok); strings.Contains(trials, trialID) {
		t.Fatalf("after down --volumes the trial is still there: %s", trials)
	}
}

func TestUpRefusesATakenPortBeforeStartingAnything(t *testing.T) {
	sb := newSandbox(t)
	gateway := sb.url(stack.Gateway)
	ln, err := net.Listen("tcp", strings.TrimPrefix(gateway, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr := sb.run("up", "--port-offset", fmt.Sprint(sb.offset))
	if code != 3 {
		t.Fatalf("up with the gateway's port taken: exit %d, want 3\n%s", code, stderr)
	}
	port := strings.TrimPrefix(gateway, "http://127.0.0.1:")
	if !strings.Contains(stderr, "port "+port) || !strings.Contains(stderr, "gateway") {
		t.Errorf("stderr %q does not name port %s (gateway)", stderr, port)
	}
	if _, err := os.Stat(filepath.Join(sb.state, "waooaw", sb.project, "state.json")); err == nil {
		t.Error("a refused up left a stack state behind")
	}
	// Nothing was started: postgres' port is still free.
	if code, _ := sb.status(); code != 3 {
		t.Errorf("status after a refused up: exit %d, want 3", code)
	}
}

func isZombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // gone
	}
	fields := strings.Fields(string(data))
	return len(fields) > 2 && fields[2] == "Z"
}

// syncBuffer is a bytes.Buffer a child process writes while the test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
