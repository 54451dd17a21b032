package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/go-connections/nat"

	"github.com/waooaw/waooaw/internal/stack"
	"github.com/waooaw/waooaw/internal/stack/logs"
)

const testProject = "demo"

func testImages() Images {
	return Images{Services: "waooaw/services:v0.0.0-test-0123456789ab", Postgres: DefaultPostgresImage, Redis: DefaultRedisImage, OPA: DefaultOPAImage}
}

// testSecrets are the project secrets of the tests' runtime.
var testSecrets = stack.Secrets{
	PostgresPassword:          "app-pw",
	PostgresSuperuserPassword: "super-pw",
	RedisPassword:             "redis-pw",
	OPAToken:                  "opa-token",
}

const testAuthz = "package system.authz\n\nallow := false\n"

func newTestRuntime(api API) *Runtime {
	return &Runtime{API: api, Project: testProject, Version: "v0.0.0-test", Images: testImages(), Pull: "missing",
		Policies: map[string]string{"gateway/authz.rego": "package gateway.authz\n", "budget.rego": "package budget\n"},
		Authz:    testAuthz, Secrets: testSecrets}
}

// testServices are the real service definitions for the docker network, by name.
func testServices(t *testing.T, offset int) map[string]stack.Service {
	t.Helper()
	svcs, err := stack.Services(stack.Config{PortOffset: offset, PublicKey: "x", Network: Network{}, Secrets: testSecrets})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]stack.Service{}
	for _, s := range svcs {
		byName[s.Name] = s
	}
	return byName
}

// neverReady is a readiness probe that never passes, so only an exit ends the wait.
type neverReady struct{}

func (neverReady) Check(context.Context) error { return errors.New("not ready yet") }

func assertContains(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one saying %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not say %q", err, f)
		}
	}
}

func assertCalls(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("calls:\n  got  %q\n  want %q", got, want)
	}
}

func TestEnsureImagesWhenTheDaemonIsUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rt := newTestRuntime(connectTestHost(t, "tcp://"+addr))
	err = rt.EnsureImages(context.Background())
	if !errors.Is(err, ErrDaemon) {
		t.Fatalf("got %v, want ErrDaemon", err)
	}
	assertContains(t, err, "the Docker daemon is not reachable", addr, "start Docker, check DOCKER_HOST", "or use --runtime local")
}

func TestClientNegotiatesTheEngineAPIVersion(t *testing.T) {
	f := newFakeEngine(t)
	if _, err := f.api().ImageExists(context.Background(), DefaultRedisImage); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.versions) != 1 || !f.versions["1.41"] {
		t.Errorf("the client used API versions %v, want only the 1.41 the engine announced", f.versions)
	}
	assertCalls(t, f.calls, []string{"HEAD /_ping", "GET /images/redis:7-alpine/json"})
}

func TestEnsureImages(t *testing.T) {
	const (
		pgInspect    = "GET /images/postgres:15-alpine/json"
		redisInspect = "GET /images/redis:7-alpine/json"
		opaInspect   = "GET /images/openpolicyagent/opa:1.22.3-static/json"
		pgPull       = "POST /images/create?fromImage=docker.io/library/postgres&tag=15-alpine"
		redisPull    = "POST /images/create?fromImage=docker.io/library/redis&tag=7-alpine"
		opaPull      = "POST /images/create?fromImage=docker.io/openpolicyagent/opa&tag=1.22.3-static"
	)
	inspects := []string{pgInspect, redisInspect, opaInspect}
	all := []string{DefaultPostgresImage, DefaultRedisImage, DefaultOPAImage}
	denied := fakeReply{status: http.StatusNotFound, message: "pull access denied for postgres, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"}
	for _, tc := range []struct {
		name     string
		present  []string
		pull     string
		pulls    map[string]fakeReply
		wantErr  []string // fragments; none: no error
		wantCall []string // besides the three inspects, in any order
		progress []string // fragments of progress lines, in any order
	}{
		{
			name: "all present, --pull missing: no pull", present: all, pull: "missing",
		},
		{
			name: "absent and pulled", present: []string{DefaultRedisImage, DefaultOPAImage}, pull: "missing",
			wantCall: []string{pgPull},
			progress: []string{"pulling postgres:15-alpine", "pulled postgres:15-alpine in "},
		},
		{
			name: "absent, pull access denied", present: []string{DefaultRedisImage, DefaultOPAImage}, pull: "missing",
			pulls:    map[string]fakeReply{DefaultPostgresImage: denied},
			wantErr:  []string{"image not available: postgres:15-alpine is not present and could not be pulled", "pull access denied for postgres", "point WAOOAW_IMAGE_POSTGRES at an image you have, or use --runtime local"},
			wantCall: []string{pgPull},
		},
		{
			name: "absent, registry unreachable", present: []string{DefaultPostgresImage, DefaultOPAImage}, pull: "missing",
			pulls: map[string]fakeReply{DefaultRedisImage: {status: http.StatusInternalServerError,
				message: `Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: no such host`}},
			wantErr:  []string{"redis:7-alpine is not present and could not be pulled", "no such host", "WAOOAW_IMAGE_"},
			wantCall: []string{redisPull},
		},
		{
			name: "absent, pull stream ends in an error", present: []string{DefaultPostgresImage, DefaultRedisImage}, pull: "missing",
			pulls: map[string]fakeReply{DefaultOPAImage: {stream: []string{`{"status":"Pulling from openpolicyagent/opa","id":"1.22.3-static"}`,
				streamError("toomanyrequests: You have reached your pull rate limit.")}}},
			wantErr:  []string{"openpolicyagent/opa:1.22.3-static is not present and could not be pulled: toomanyrequests: You have reached your pull rate limit.", "WAOOAW_IMAGE_"},
			wantCall: []string{opaPull},
		},
		{
			name: "none present, --pull never: no pull at all", pull: "never",
			wantErr: []string{"postgres:15-alpine is not present and --pull never forbids pulling it", "redis:7-alpine is not present", "openpolicyagent/opa:1.22.3-static is not present", "point WAOOAW_IMAGE_OPA at an image you have"},
		},
		{
			name: "present, --pull always, pull fails: the local copy serves", present: all, pull: "always",
			pulls:    map[string]fakeReply{DefaultPostgresImage: denied},
			wantCall: []string{pgPull, redisPull, opaPull},
			progress: []string{"pull of postgres:15-alpine failed (", "); using the local copy", "pulled redis:7-alpine in ", "pulled openpolicyagent/opa:1.22.3-static in "},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.setImages(tc.present...)
			f.locked(func() { f.pulls = tc.pulls })
			rt := newTestRuntime(f.api())
			rt.Pull = tc.pull
			var (
				mu       sync.Mutex
				progress []string
			)
			rt.Progress = func(s string) { mu.Lock(); progress = append(progress, s); mu.Unlock() }
			err := rt.EnsureImages(context.Background())
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("EnsureImages: %v", err)
			}
			if len(tc.wantErr) > 0 {
				if !errors.Is(err, ErrImage) {
					t.Fatalf("got %v, want ErrImage", err)
				}
				assertContains(t, err, tc.wantErr...)
			}
			want := append(slices.Clone(inspects), tc.wantCall...)
			slices.Sort(want)
			got := f.apiCalls()
			slices.Sort(got)
			assertCalls(t, got, want)
			joined := strings.Join(progress, "\n")
			for _, p := range tc.progress {
				if !strings.Contains(joined, p) {
					t.Errorf("progress %q does not say %q", progress, p)
				}
			}
		})
	}
}

func TestEnsureImagesUsesTheOverrides(t *testing.T) {
	f := newFakeEngine(t)
	f.setImages(DefaultPostgresImage, DefaultOPAImage)
	f.locked(func() {
		f.pulls["localhost/redis-standin:7"] = fakeReply{status: http.StatusInternalServerError,
			message: `Get "https://localhost/v2/": dial tcp 127.0.0.1:443: connect: connection refused`}
	})
	images := ImagesFromEnv(func(k string) string {
		return map[string]string{"WAOOAW_IMAGE_REDIS": " localhost/redis-standin:7 "}[k]
	})
	if images.Postgres != DefaultPostgresImage || images.OPA != DefaultOPAImage || images.Redis != "localhost/redis-standin:7" {
		t.Fatalf("ImagesFromEnv = %+v", images)
	}
	rt := newTestRuntime(f.api())
	rt.Images = images
	err := rt.EnsureImages(context.Background())
	if !errors.Is(err, ErrImage) {
		t.Fatalf("got %v, want ErrImage", err)
	}
	assertContains(t, err, "localhost/redis-standin:7 is not present and could not be pulled", "connection refused")
	if slices.ContainsFunc(f.apiCalls(), func(c string) bool { return strings.Contains(c, "redis:7-alpine") }) {
		t.Errorf("the overridden default image was asked for: %q", f.apiCalls())
	}
}

func TestPrepare(t *testing.T) {
	const (
		imageCall   = "GET /images/waooaw/services:v0.0.0-test-0123456789ab/json"
		networkCall = "GET /networks/waooaw-demo"
	)
	f := newFakeEngine(t)
	rt := newTestRuntime(f.api())

	err := rt.Prepare(context.Background())
	if !errors.Is(err, ErrImage) {
		t.Fatalf("without the services image: got %v, want ErrImage", err)
	}
	assertContains(t, err, "the services image waooaw/services:v0.0.0-test-0123456789ab was not built")
	assertCalls(t, f.apiCalls(), []string{imageCall})

	f.setImages(testImages().Services)
	for _, want := range [][]string{
		{imageCall, networkCall, "POST /networks/create", "POST /volumes/create"},
		{imageCall, networkCall, "POST /volumes/create"}, // the network is there now
	} {
		f.resetCalls()
		if err := rt.Prepare(context.Background()); err != nil {
			t.Fatal(err)
		}
		assertCalls(t, f.apiCalls(), want)
	}
	f.locked(func() {
		if !f.networks["waooaw-demo"] || !f.volumes["waooaw-demo-postgres"] {
			t.Errorf("networks %v, volumes %v", f.networks, f.volumes)
		}
	})

	f.resetCalls()
	for range 2 { // the second time both are gone: a 404 is fine
		if err := rt.RemoveNetwork(context.Background()); err != nil {
			t.Error(err)
		}
		if err := rt.RemoveVolume(context.Background()); err != nil {
			t.Error(err)
		}
	}
	assertCalls(t, f.apiCalls(), []string{"DELETE /networks/waooaw-demo", "DELETE /volumes/waooaw-demo-postgres", "DELETE /networks/waooaw-demo", "DELETE /volumes/waooaw-demo-postgres"})
}

func TestStartCreatesTheContainerOfTheSpec(t *testing.T) {
	f := newFakeEngine(t)
	f.setImages(testImages().Services, DefaultPostgresImage)
	rt := newTestRuntime(f.api())
	svcs := testServices(t, 100)
	for _, name := range []string{stack.Postgres, stack.Backend} {
		if err := rt.Start(context.Background(), svcs[name]); err != nil {
			t.Fatal(err)
		}
	}

	pg, _ := f.container("waooaw-demo-postgres")
	req := pg.create
	wantLabels := map[string]string{
		"dev.waooaw.project": "demo", "dev.waooaw.service": "postgres", "dev.waooaw.version": "v0.0.0-test",
		"com.docker.compose.project": "waooaw-demo", "com.docker.compose.service": "postgres",
		"dev.waooaw.config": rt.spec(svcs[stack.Postgres]).Labels[labelConfig],
	}
	if fmt.Sprint(req.Labels) != fmt.Sprint(wantLabels) {
		t.Errorf("labels %v, want %v", req.Labels, wantLabels)
	}
	if req.Image != DefaultPostgresImage {
		t.Errorf("image %q", req.Image)
	}
	if got := req.HostConfig.PortBindings["5432/tcp"]; len(got) != 1 || got[0] != (nat.PortBinding{HostIP: "127.0.0.1", HostPort: "5532"}) {
		t.Errorf("port bindings %v, want 5432/tcp on 127.0.0.1:5532 only", req.HostConfig.PortBindings)
	}
	if _, ok := req.ExposedPorts["5432/tcp"]; !ok || len(req.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v", req.ExposedPorts)
	}
	if !slices.Equal(req.HostConfig.Binds, []string{"waooaw-demo-postgres:/var/lib/postgresql/data"}) {
		t.Errorf("binds %v", req.HostConfig.Binds)
	}
	if req.HostConfig.NetworkMode != "waooaw-demo" || !slices.Equal(req.NetworkingConfig.EndpointsConfig["waooaw-demo"].Aliases, []string{"postgres"}) {
		t.Errorf("network %q, endpoints %v", req.HostConfig.NetworkMode, req.NetworkingConfig.EndpointsConfig)
	}
	// The superuser's password reaches initdb as a file, not in the environment `docker
	// inspect` shows.
	if !slices.Equal(req.Env, []string{"POSTGRES_USER=postgres", "POSTGRES_PASSWORD_FILE=/waooaw/postgres-superuser-password", "POSTGRES_DB=waooaw"}) {
		t.Errorf("env %q", req.Env)
	}
	wantFiles := map[string]fakeFile{
		"waooaw":                             {mode: 0o755},
		"waooaw/postgres-superuser-password": {mode: 0o444, content: "super-pw\n"},
	}
	if fmt.Sprint(pg.archive) != fmt.Sprint(wantFiles) {
		t.Errorf("copied into postgres %v, want %v", pg.archive, wantFiles)
	}

	be, _ := f.container("waooaw-demo-backend")
	if be.create.Image != testImages().Services || !slices.Equal(be.create.Cmd, []string{"serve", "backend"}) {
		t.Errorf("backend runs %q %q", be.create.Image, be.create.Cmd)
	}
	for _, want := range []string{"ADDR=:8001", "DATABASE_URL=postgres://waooaw:app-pw@postgres:5432/waooaw?sslmode=disable", "ENVIRONMENT=development", "JWT_PUBLIC_KEY=x"} {
		if !slices.Contains(be.create.Env, want) {
			t.Errorf("backend env %q lacks %q", be.create.Env, want)
		}
	}
	if !slices.IsSorted(be.create.Env) {
		t.Errorf("backend env %q is not sorted (the config hash would change from run to run)", be.create.Env)
	}
	if got := be.create.HostConfig.PortBindings["8001/tcp"]; len(got) != 1 || got[0].HostPort != "8191" || got[0].HostIP != "127.0.0.1" {
		t.Errorf("backend port bindings %v", be.create.HostConfig.PortBindings)
	}
}

func TestStartReusesAnUnchangedContainer(t *testing.T) {
	const name = "waooaw-demo-redis"
	const (
		inspect = "GET /containers/" + name + "/json"
		create  = "POST /containers/create?name=" + name
		start   = "POST /containers/" + name + "/start"
		remove  = "DELETE /containers/" + name + "?force=1"
		copyIn  = "PUT /containers/" + name + "/archive?path=/" // the configuration file
	)
	running := fakeState{Status: "running", Running: true}
	exited := fakeState{Status: "exited", ExitCode: 137}
	created := fakeState{Status: "created"}
	for _, tc := range []struct {
		name       string
		existing   *fakeState // nil: no container yet
		sameConfig bool
		want       []string
	}{
		{"no container: create and start", nil, false, []string{inspect, create, copyIn, start}},
		{"running, same config: left be", &running, true, []string{inspect}},
		{"running, other config: replaced", &running, false, []string{inspect, remove, create, copyIn, start}},
		{"stopped, same config: started again", &exited, true, []string{inspect, start}},
		{"stopped, other config: replaced", &exited, false, []string{inspect, remove, create, copyIn, start}},
		{"created but never started, same config: started", &created, true, []string{inspect, start}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.setImages(DefaultRedisImage)
			rt := newTestRuntime(f.api())
			svc := testServices(t, 0)[stack.Redis]
			want := rt.spec(svc).Labels
			if tc.existing != nil {
				labels := map[string]string{LabelProject: testProject, labelConfig: want[labelConfig]}
				if !tc.sameConfig {
					labels[labelConfig] = "0123456789abcdef"
				}
				f.addContainer(name, labels, *tc.existing)
			}
			if err := rt.Start(context.Background(), svc); err != nil {
				t.Fatal(err)
			}
			assertCalls(t, f.apiCalls(), tc.want)
			c, ok := f.container(name)
			if !ok || !c.state.Running || c.labels[labelConfig] != want[labelConfig] {
				t.Errorf("afterwards the container is %+v (present %v), want it running with config %s", c, ok, want[labelConfig])
			}
		})
	}
}

func TestStartWhenTheHostPortIsTaken(t *testing.T) {
	const name = "waooaw-demo-gateway"
	const msg = "driver failed programming external connectivity on endpoint waooaw-demo-gateway (3f1c…): Bind for 127.0.0.1:8090 failed: port is already allocated"
	for _, tc := range []struct {
		name     string
		existing bool // a stopped container of the same config, as `docker stop` leaves it
		want     []string
	}{
		{"new container", false, []string{"GET /containers/" + name + "/json", "POST /containers/create?name=" + name, "POST /containers/" + name + "/start"}},
		{"stopped container reused", true, []string{"GET /containers/" + name + "/json", "POST /containers/" + name + "/start"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.setImages(testImages().Services)
			f.locked(func() {
				f.overrides["POST /containers/"+name+"/start"] = fakeReply{status: http.StatusInternalServerError, message: msg}
			})
			rt := newTestRuntime(f.api())
			svc := testServices(t, 0)[stack.Gateway]
			if tc.existing {
				f.addContainer(name, rt.spec(svc).Labels, fakeState{Status: "exited"})
			}
			err := rt.Start(context.Background(), svc)
			assertContains(t, err, "start waooaw-demo-gateway: host port 8090 is already in use", "Bind for 127.0.0.1:8090 failed: port is already allocated", "free it or run 'waooaw up --port-offset 100'")
			assertCalls(t, f.apiCalls(), tc.want)
		})
	}
}

func TestStartCopiesThePoliciesIntoOPABeforeStarting(t *testing.T) {
	const name = "waooaw-demo-opa"
	f := newFakeEngine(t)
	f.setImages(DefaultOPAImage)
	rt := newTestRuntime(f.api())
	if err := rt.Start(context.Background(), testServices(t, 0)[stack.OPA]); err != nil {
		t.Fatal(err)
	}
	assertCalls(t, f.apiCalls(), []string{
		"GET /containers/" + name + "/json",
		"POST /containers/create?name=" + name,
		"PUT /containers/" + name + "/archive?path=/",
		"POST /containers/" + name + "/start",
	})
	c, _ := f.container(name)
	want := map[string]fakeFile{
		"policies":                    {mode: 0o755},
		"policies/budget.rego":        {mode: 0o644, content: "package budget\n"},
		"policies/gateway_authz.rego": {mode: 0o644, content: "package gateway.authz\n"},
		// The API's authorization policy, beside the gateway's policies but not among them.
		"authz":                   {mode: 0o755},
		"authz/system_authz.rego": {mode: 0o644, content: testAuthz},
	}
	if fmt.Sprint(c.archive) != fmt.Sprint(want) {
		t.Errorf("copied %v, want %v", c.archive, want)
	}
	// OPA's own token authentication and basic authorization, as the embedded server has.
	if !slices.Equal(c.create.Cmd, []string{"run", "--server", "--addr", "0.0.0.0:8181", "--authentication=token", "--authorization=basic", "--log-format", "json", "/policies", "/authz"}) {
		t.Errorf("opa runs %q", c.create.Cmd)
	}
	for _, kv := range c.create.Env {
		if strings.Contains(kv, testSecrets.OPAToken) {
			t.Errorf("opa's environment holds the management token: %q", kv)
		}
	}

	// Other policies are another config: the container is replaced, and the new ones copied.
	f.resetCalls()
	rt.Policies = map[string]string{"budget.rego": "package budget\n\ndefault allow := false\n"}
	if err := rt.Start(context.Background(), testServices(t, 0)[stack.OPA]); err != nil {
		t.Fatal(err)
	}
	assertCalls(t, f.apiCalls(), []string{
		"GET /containers/" + name + "/json",
		"DELETE /containers/" + name + "?force=1",
		"POST /containers/create?name=" + name,
		"PUT /containers/" + name + "/archive?path=/",
		"POST /containers/" + name + "/start",
	})
	if c, _ := f.container(name); c.archive["policies/budget.rego"].content != rt.Policies["budget.rego"] || len(c.archive) != 4 {
		t.Errorf("copied %v", c.archive)
	}

	// Another management token is another authz module: replaced again.
	f.resetCalls()
	rt.Authz = "package system.authz\n\nallow := true\n"
	if err := rt.Start(context.Background(), testServices(t, 0)[stack.OPA]); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.container(name); c.archive["authz/system_authz.rego"].content != rt.Authz {
		t.Errorf("after a new token: copied %v", c.archive)
	}
}

func TestUpFailsAtOnceWhenAContainerExits(t *testing.T) {
	const pg = "waooaw-demo-postgres"
	for _, tc := range []struct {
		name  string
		state fakeState
		want  string
	}{
		{"exit code 1", fakeState{Status: "exited", ExitCode: 1}, "postgres: exited with code 1"},
		{"out of memory", fakeState{Status: "exited", ExitCode: 137, OOMKilled: true}, "postgres: exited: killed for running out of memory (exit code 137)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			img := testImages()
			f.setImages(img.Services, img.Postgres, img.Redis, img.OPA)
			f.locked(func() { f.afterStart[pg] = tc.state })
			at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			f.log(pg,
				fakeLogLine{1, at, "The files belonging to this database system will be owned by user \"postgres\"."},
				fakeLogLine{2, at.Add(time.Millisecond), "initdb: error: could not create directory \"/var/lib/postgresql/data/pg_wal\": No space left on device"},
				fakeLogLine{2, at.Add(2 * time.Millisecond), "initdb: removing contents of data directory \"/var/lib/postgresql/data\""},
			)
			rt := newTestRuntime(f.api())
			var svcs []stack.Service
			for _, name := range stack.Names() {
				s := testServices(t, 0)[name]
				s.Probe = neverReady{}
				svcs = append(svcs, s)
			}
			// The hour is never waited: the guard only turns a hang into a failure.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			err := (&stack.Engine{Runtime: rt, Poll: time.Millisecond}).Up(ctx, svcs, time.Hour)

			var se *stack.ServiceError
			if !errors.As(err, &se) || se.Service != stack.Postgres {
				t.Fatalf("got %v, want a *stack.ServiceError for postgres", err)
			}
			if !errors.Is(err, stack.ErrExited) || err.Error() != tc.want {
				t.Errorf("got %q, want %q (wrapping stack.ErrExited)", err, tc.want)
			}
			wantTail := []string{
				"The files belonging to this database system will be owned by user \"postgres\".",
				"initdb: error: could not create directory \"/var/lib/postgresql/data/pg_wal\": No space left on device",
				"initdb: removing contents of data directory \"/var/lib/postgresql/data\"",
			}
			if !slices.Equal(se.LogTail, wantTail) {
				t.Errorf("log tail %q, want %q", se.LogTail, wantTail)
			}
			assertCalls(t, f.callsFor(pg), []string{
				"GET /containers/" + pg + "/json",
				"POST /containers/create?name=" + pg,
				"PUT /containers/" + pg + "/archive?path=/",
				"POST /containers/" + pg + "/start",
				"GET /containers/" + pg + "/json",
				"GET /containers/" + pg + "/logs?tail=15",
			})
			for _, c := range f.apiCalls() {
				if strings.HasPrefix(c, "DELETE ") || strings.Contains(c, "/stop") {
					t.Errorf("the runtime removed or stopped a container (%s): the exited one is left for inspection", c)
				}
			}
			for _, s := range []string{stack.Backend, stack.Gateway, stack.CP, stack.PP} {
				if calls := f.callsFor(ContainerName(testProject, s)); len(calls) > 0 {
					t.Errorf("%s depends on postgres but was touched: %q", s, calls)
				}
			}
			if c, ok := f.container(pg); !ok || c.state != tc.state {
				t.Errorf("postgres container afterwards: %+v (present %v)", c, ok)
			}
		})
	}
}

func TestExited(t *testing.T) {
	const name = "waooaw-demo-redis"
	for _, tc := range []struct {
		name  string
		state *fakeState // nil: no container
		fail  bool       // the engine answers the inspect with a 500
		want  string     // "" for still running
	}{
		{name: "running", state: &fakeState{Status: "running", Running: true}},
		{name: "created, not started yet", state: &fakeState{Status: "created"}},
		{name: "exited", state: &fakeState{Status: "exited", ExitCode: 1}, want: "exited with code 1"},
		{name: "exited with the engine's error", state: &fakeState{Status: "exited", ExitCode: 127, Error: `exec: "redis-server": executable file not found in $PATH`},
			want: `exited with code 127: exec: "redis-server": executable file not found in $PATH`},
		{name: "out of memory", state: &fakeState{Status: "exited", ExitCode: 137, OOMKilled: true}, want: "exited: killed for running out of memory (exit code 137)"},
		{name: "restarting", state: &fakeState{Status: "restarting", Running: true, ExitCode: 1}, want: "exited: restarting after exit code 1"},
		{name: "removed", want: "exited: container waooaw-demo-redis is gone"},
		{name: "engine hiccup", state: &fakeState{Status: "exited", ExitCode: 1}, fail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			if tc.state != nil {
				f.addContainer(name, nil, *tc.state)
			}
			if tc.fail {
				f.locked(func() {
					f.overrides["GET /containers/"+name+"/json"] = fakeReply{status: http.StatusInternalServerError, message: "context deadline exceeded"}
				})
			}
			err := newTestRuntime(f.api()).Exited(testServices(t, 0)[stack.Redis])
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, stack.ErrExited) || err.Error() != tc.want {
				t.Errorf("got %q, want %q wrapping stack.ErrExited", err, tc.want)
			}
		})
	}
}

func TestStop(t *testing.T) {
	const name = "waooaw-demo-redis"
	const (
		stop   = "POST /containers/" + name + "/stop?t=10"
		remove = "DELETE /containers/" + name + "?force=1"
	)
	for _, tc := range []struct {
		name      string
		state     *fakeState
		overrides map[string]fakeReply
		want      []string
		wantErr   string
		left      bool // the fake still holds the container afterwards
	}{
		{name: "running", state: &fakeState{Status: "running", Running: true}, want: []string{stop, remove}},
		{name: "already stopped", state: &fakeState{Status: "exited"}, want: []string{stop, remove}},
		{name: "no container: both 404s are fine", want: []string{stop, remove}},
		{name: "gone between stop and remove", state: &fakeState{Status: "running", Running: true},
			overrides: map[string]fakeReply{"DELETE /containers/" + name: {status: http.StatusNotFound, message: "No such container: " + name}},
			want:      []string{stop, remove}, left: true},
		{name: "the engine cannot stop it", state: &fakeState{Status: "running", Running: true},
			overrides: map[string]fakeReply{"POST /containers/" + name + "/stop": {status: http.StatusInternalServerError, message: "cannot stop container: " + name + ": permission denied"}},
			want:      []string{stop}, wantErr: "cannot stop container: waooaw-demo-redis: permission denied", left: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			if tc.state != nil {
				f.addContainer(name, nil, *tc.state)
			}
			f.locked(func() { maps.Copy(f.overrides, tc.overrides) })
			err := newTestRuntime(f.api()).Stop(context.Background(), testServices(t, 0)[stack.Redis])
			if tc.wantErr != "" {
				assertContains(t, err, tc.wantErr)
			} else if err != nil {
				t.Fatalf("Stop: %v", err)
			}
			assertCalls(t, f.apiCalls(), tc.want)
			if _, present := f.container(name); present != tc.left {
				t.Errorf("container present afterwards: %v", present)
			}
		})
	}
}

// logTimes are Docker's timestamps of the test log lines.
func logTimes() [4]time.Time {
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return [4]time.Time{base.Add(1), base.Add(time.Second + 2), base.Add(2*time.Second + 3), base.Add(3*time.Second + 4)}
}

func TestLogTail(t *testing.T) {
	const name = "waooaw-demo-redis"
	f := newFakeEngine(t)
	ts := logTimes()
	f.addContainer(name, nil, fakeState{Status: "exited", ExitCode: 1})
	f.log(name,
		fakeLogLine{1, ts[0], "1:C 02 Jan 2025 03:04:05.000 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo"},
		fakeLogLine{2, ts[1], "1:M 02 Jan 2025 03:04:06.000 # Warning: Could not create server TCP listening socket *:6379: bind: Address in use"},
		fakeLogLine{1, ts[2], ""},
		fakeLogLine{2, ts[3], "1:M 02 Jan 2025 03:04:08.000 # Failed listening on port 6379 (tcp), aborting."},
	)
	rt := newTestRuntime(f.api())
	svc := testServices(t, 0)[stack.Redis]

	got := rt.LogTail(svc, 3)
	want := []string{ // Docker's timestamps gone, the empty line dropped, stdout and stderr in order
		"1:M 02 Jan 2025 03:04:06.000 # Warning: Could not create server TCP listening socket *:6379: bind: Address in use",
		"1:M 02 Jan 2025 03:04:08.000 # Failed listening on port 6379 (tcp), aborting.",
	}
	if !slices.Equal(got, want) {
		t.Errorf("LogTail = %q, want %q", got, want)
	}
	assertCalls(t, f.apiCalls(), []string{"GET /containers/" + name + "/logs?tail=3"})

	if got := rt.LogTail(testServices(t, 0)[stack.OPA], 15); got != nil {
		t.Errorf("LogTail of a missing container = %q, want nil", got)
	}
}

func TestLogSourceRead(t *testing.T) {
	const name = "waooaw-demo-gateway"
	ts := logTimes()
	ownTime := ts[1].Add(500 * time.Millisecond)
	sinceArg := func(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }
	for _, tc := range []struct {
		name     string
		opts     logs.Options
		wantCall string
		wantMsgs []string
	}{
		{"all", logs.Options{Tail: logs.TailAll}, "tail=all", []string{"listening on :8000", "request", "panic: boom"}},
		{"tail", logs.Options{Tail: 1}, "tail=1", []string{"panic: boom"}},
		{"correlation id: the tail counts matches", logs.Options{Tail: 5, CorrelationID: "c0ffee"}, "tail=all", []string{"request"}},
		{"since", logs.Options{Tail: logs.TailAll, Since: ts[1]}, "since=" + sinceArg(ts[1]) + "&tail=all", []string{"request", "panic: boom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEngine(t)
			f.addContainer(name, nil, fakeState{Status: "running", Running: true})
			f.log(name,
				fakeLogLine{1, ts[0], "listening on :8000"},
				fakeLogLine{1, ts[1], `{"time":"` + ownTime.Format(time.RFC3339Nano) + `","level":"INFO","msg":"request","correlation_id":"c0ffee","status":200}`},
				fakeLogLine{2, ts[2], "panic: boom"},
			)
			src := &LogSource{API: f.api(), Project: testProject, Name: stack.Gateway}
			entries, follow, err := src.Read(context.Background(), tc.opts)
			if err != nil || follow != nil {
				t.Fatalf("Read: %v (follow %v)", err, follow != nil)
			}
			assertCalls(t, f.apiCalls(), []string{"GET /containers/" + name + "/logs?" + tc.wantCall})
			var msgs []string
			for _, e := range entries {
				msgs = append(msgs, e.Msg)
				if e.Service != stack.Gateway {
					t.Errorf("entry %q has service %q", e.Msg, e.Service)
				}
				wantTime := map[string]time.Time{"listening on :8000": ts[0], "request": ownTime, "panic: boom": ts[2]}[e.Msg]
				if !e.Time.Equal(wantTime) {
					t.Errorf("entry %q at %v, want %v (the line's own time, else Docker's)", e.Msg, e.Time, wantTime)
				}
			}
			if !slices.Equal(msgs, tc.wantMsgs) {
				t.Errorf("messages %q, want %q", msgs, tc.wantMsgs)
			}
		})
	}

	t.Run("no container", func(t *testing.T) {
		f := newFakeEngine(t)
		entries, follow, err := (&LogSource{API: f.api(), Project: testProject, Name: stack.Gateway}).Read(context.Background(), logs.Options{Tail: 10, Follow: true})
		if entries != nil || follow != nil || err != nil {
			t.Errorf("got %v, %v, %v; want nothing", entries, follow != nil, err)
		}
	})
}

func TestLogSourceFollow(t *testing.T) {
	const name = "waooaw-demo-cp"
	ts := logTimes()
	f := newFakeEngine(t)
	f.addContainer(name, nil, fakeState{Status: "running", Running: true})
	f.log(name, fakeLogLine{1, ts[0], "listening on :8015"}, fakeLogLine{1, ts[1], "GET /health 200"})
	src := &LogSource{API: f.api(), Project: testProject, Name: stack.CP}
	backlog, follow, err := src.Read(context.Background(), logs.Options{Tail: 1, Follow: true})
	if err != nil || follow == nil {
		t.Fatalf("Read: %v (follow %v)", err, follow != nil)
	}
	if len(backlog) != 1 || backlog[0].Msg != "GET /health 200" {
		t.Fatalf("backlog %+v", backlog)
	}

	ctx, cancel := context.WithCancel(context.Background())
	emitted := make(chan logs.Entry, 4)
	done := make(chan error, 1)
	go func() { done <- follow(ctx, func(e logs.Entry) { emitted <- e }) }()
	f.log(name, fakeLogLine{2, ts[2], "shutting down"})
	select {
	case e := <-emitted:
		if e.Msg != "shutting down" || !e.Time.Equal(ts[2]) || e.Service != stack.CP {
			t.Errorf("followed %+v", e)
		}
	case <-time.After(time.Minute): // a hang guard, not a speed expectation
		t.Fatal("the new line was never followed")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("follow returned %v", err)
	}
	select {
	case e := <-emitted:
		t.Errorf("followed %q twice or an old line again", e.Msg)
	default:
	}
	after := ts[1].Add(time.Nanosecond)
	assertCalls(t, f.apiCalls(), []string{
		"GET /containers/" + name + "/logs?tail=1",
		fmt.Sprintf("GET /containers/%s/logs?follow=1&since=%d.%09d&tail=all", name, after.Unix(), after.Nanosecond()),
	})
}

func TestContainerMemoryAndList(t *testing.T) {
	f := newFakeEngine(t)
	f.addContainer("waooaw-demo-redis", map[string]string{LabelProject: "demo"}, fakeState{Status: "running", Running: true})
	f.addContainer("waooaw-demo-opa", map[string]string{LabelProject: "demo"}, fakeState{Status: "exited"})
	f.addContainer("waooaw-other-redis", map[string]string{LabelProject: "other"}, fakeState{Status: "running", Running: true})
	api := f.api()

	mem, err := api.ContainerMemory(context.Background(), "waooaw-demo-redis")
	if err != nil || mem != 40<<20 {
		t.Errorf("ContainerMemory = %d, %v; want 40 MiB (usage less inactive_file)", mem, err)
	}
	names, err := api.ContainersByLabel(context.Background(), LabelProject, "demo")
	if err != nil || !slices.Equal(names, []string{"waooaw-demo-opa", "waooaw-demo-redis"}) {
		t.Errorf("ContainersByLabel = %q, %v", names, err)
	}
	assertCalls(t, f.apiCalls(), []string{
		"GET /containers/waooaw-demo-redis/stats?stream=0&one-shot=1",
		`GET /containers/json?all=1&filters={"label":{"dev.waooaw.project=demo":true}}`,
	})
}

func TestServicesImageTag(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "waooaw")
	tag := func(content, version string) string {
		t.Helper()
		if err := os.WriteFile(exe, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		tag, err := ServicesImageTag(exe, version)
		if err != nil {
			t.Fatal(err)
		}
		return tag
	}
	a := tag("binary one", "v1.2.3+dirty")
	if !regexp.MustCompile(`^waooaw/services:v1\.2\.3-dirty-[0-9a-f]{12}$`).MatchString(a) {
		t.Errorf("tag %q", a)
	}
	if again := tag("binary one", "v1.2.3+dirty"); again != a {
		t.Errorf("same binary, tags %q and %q", a, again)
	}
	if b := tag("binary two", "v1.2.3+dirty"); b == a {
		t.Errorf("another binary kept the tag %q", a)
	}
	if _, err := ServicesImageTag(filepath.Join(dir, "missing"), "v1"); err == nil {
		t.Error("no error for a missing binary")
	}
}

// staticBinary builds a tiny Go program with CGO_ENABLED=0: what `make build` makes of waooaw.
// (The test binary itself is not static under -race, which needs cgo.)
func staticBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build a static binary with")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "static")
	cmd := exec.Command(goTool, "build", "-o", out, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func TestCheckStatic(t *testing.T) {
	text := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkStatic(staticBinary(t)); err != nil {
		t.Errorf("a CGO_ENABLED=0 build: %v", err)
	}
	err := checkStatic(text)
	if !errors.Is(err, ErrNotStatic) {
		t.Errorf("a shell script: got %v, want ErrNotStatic", err)
	}
	assertContains(t, err, "build it for Linux with CGO_ENABLED=0")

	if _, statErr := os.Stat("/bin/ls"); statErr != nil {
		t.Skip("no /bin/ls to stand for a dynamically linked binary")
	}
	err = checkStatic("/bin/ls")
	if !errors.Is(err, ErrNotStatic) {
		t.Fatalf("/bin/ls: got %v, want ErrNotStatic", err)
	}
	assertContains(t, err, "it is dynamically linked; build it with CGO_ENABLED=0")
}

func TestEnsureServicesImage(t *testing.T) {
	exe := staticBinary(t)
	tag, err := ServicesImageTag(exe, "v0.0.0-test")
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeEngine(t)
	api := f.api()
	var progress []string
	note := func(s string) { progress = append(progress, s) }

	built, err := EnsureServicesImage(context.Background(), api, exe, tag, note)
	if err != nil || !built {
		t.Fatalf("EnsureServicesImage = %v, %v", built, err)
	}
	assertCalls(t, f.apiCalls(), []string{"GET /images/" + tag + "/json", "POST /build?t=" + tag})
	bin, _ := os.ReadFile(exe)
	var ctxFiles map[string]fakeFile
	f.locked(func() { ctxFiles = f.builds[0] })
	if ctxFiles["Dockerfile"].content != dockerfile || ctxFiles["waooaw"].content != string(bin) || ctxFiles["waooaw"].mode != 0o755 || len(ctxFiles) != 2 {
		t.Errorf("build context: %d files, Dockerfile ok %v, binary ok %v mode %o", len(ctxFiles),
			ctxFiles["Dockerfile"].content == dockerfile, ctxFiles["waooaw"].content == string(bin), ctxFiles["waooaw"].mode)
	}
	if len(progress) != 2 || progress[0] != "building "+tag+" from "+exe || !strings.HasPrefix(progress[1], "built "+tag+" in ") {
		t.Errorf("progress %q", progress)
	}

	f.resetCalls()
	if built, err := EnsureServicesImage(context.Background(), api, exe, tag, nil); err != nil || built {
		t.Errorf("with the image there: built %v, %v", built, err)
	}
	assertCalls(t, f.apiCalls(), []string{"GET /images/" + tag + "/json"})

	f.resetCalls()
	if _, err := os.Stat("/bin/ls"); err == nil {
		if _, err := EnsureServicesImage(context.Background(), api, "/bin/ls", "waooaw/services:ls", nil); !errors.Is(err, ErrNotStatic) {
			t.Errorf("a dynamic binary: got %v, want ErrNotStatic", err)
		}
		assertCalls(t, f.apiCalls(), []string{"GET /images/waooaw/services:ls/json"})
	}

	f.resetCalls()
	f.locked(func() { f.buildErr = "failed to register layer: write /waooaw: no space left on device" })
	_, err = EnsureServicesImage(context.Background(), api, exe, "waooaw/services:other", nil)
	assertContains(t, err, "build the services image waooaw/services:other: failed to register layer: write /waooaw: no space left on device")
	assertCalls(t, f.apiCalls(), []string{"GET /images/waooaw/services:other/json", "POST /build?t=waooaw/services:other"})
}
