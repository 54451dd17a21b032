package stack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRuntime records the order of starts and stops; services become ready when the test
// says so, through their probe.
type fakeRuntime struct {
	mu       sync.Mutex
	started  []string
	stopped  []string
	ready    map[string]bool
	exited   map[string]error
	startErr map[string]error
	stopErr  map[string]error
	// readyOnStart makes every service ready as soon as it starts.
	readyOnStart bool
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{ready: map[string]bool{}, exited: map[string]error{}, startErr: map[string]error{}, stopErr: map[string]error{}, readyOnStart: true}
}

func (f *fakeRuntime) Name() string { return "fake" }

func (f *fakeRuntime) Start(_ context.Context, s Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.startErr[s.Name]; err != nil {
		return err
	}
	f.started = append(f.started, s.Name)
	if f.readyOnStart {
		f.ready[s.Name] = true
	}
	return nil
}

func (f *fakeRuntime) Exited(s Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exited[s.Name]
}

func (f *fakeRuntime) Stop(_ context.Context, s Service) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, s.Name)
	return f.stopErr[s.Name]
}

func (f *fakeRuntime) LogTail(s Service, n int) []string {
	return []string{"last line of " + s.Name}
}

func (f *fakeRuntime) isReady(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready[name]
}

func (f *fakeRuntime) order(list []string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(list)
}

// fakeProbe asks the fake runtime whether its service is ready.
type fakeProbe struct {
	rt   *fakeRuntime
	name string
}

func (p fakeProbe) Check(context.Context) error {
	if p.rt.isReady(p.name) {
		return nil
	}
	return fmt.Errorf("%s not ready", p.name)
}

// fakeStack is the real stack's dependency graph with fake probes.
func fakeStack(t *testing.T, rt *fakeRuntime) []Service {
	t.Helper()
	svcs, err := Services(Config{PublicKey: "/k.pem"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range svcs {
		svcs[i].Probe = fakeProbe{rt: rt, name: svcs[i].Name}
	}
	return svcs
}

func index(list []string, name string) int { return slices.Index(list, name) }

func TestUpStartsEachServiceAfterItsDependencies(t *testing.T) {
	rt := newFakeRuntime()
	svcs := fakeStack(t, rt)
	var events []Event
	e := &Engine{Runtime: rt, Poll: time.Millisecond, Events: func(ev Event) { events = append(events, ev) }}
	if err := e.Up(context.Background(), svcs, time.Minute); err != nil {
		t.Fatal(err)
	}
	started := rt.order(rt.started)
	if len(started) != 7 {
		t.Fatalf("started %v, want all seven", started)
	}
	for _, s := range svcs {
		for _, dep := range s.DependsOn {
			if index(started, dep) > index(started, s.Name) {
				t.Errorf("%s started before its dependency %s: %v", s.Name, dep, started)
			}
		}
	}
	readyCount := 0
	for _, ev := range events {
		if ev.Kind == EventReady {
			readyCount++
			if ev.URL == "" {
				t.Errorf("ready event of %s has no URL", ev.Service)
			}
		}
	}
	if readyCount != 7 {
		t.Errorf("%d ready events, want 7", readyCount)
	}
}

func TestUpWaitsForReadinessBeforeStartingDependents(t *testing.T) {
	rt := newFakeRuntime()
	rt.readyOnStart = false
	svcs := fakeStack(t, rt)
	e := &Engine{Runtime: rt, Poll: time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- e.Up(context.Background(), svcs, time.Minute) }()

	// Until postgres is ready, the backend must not start.
	waitFor(t, func() bool { return slices.Contains(rt.order(rt.started), Postgres) })
	time.Sleep(20 * time.Millisecond) // give a wrong engine time to misbehave
	if slices.Contains(rt.order(rt.started), Backend) {
		t.Fatal("backend started before postgres was ready")
	}
	for _, name := range Names() {
		rt.mu.Lock()
		rt.ready[name] = true
		rt.mu.Unlock()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestUpFailsFastWhenAServiceExits(t *testing.T) {
	rt := newFakeRuntime()
	rt.readyOnStart = false
	rt.exited[Postgres] = fmt.Errorf("%w: exited with status 1", ErrExited)
	svcs := fakeStack(t, rt)
	e := &Engine{Runtime: rt, Poll: time.Millisecond}
	err := e.Up(context.Background(), svcs, time.Hour) // fail fast: no waiting for the hour
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != Postgres {
		t.Fatalf("err = %v, want a ServiceError for postgres", err)
	}
	if !errors.Is(err, ErrExited) {
		t.Errorf("err = %v, want it to wrap ErrExited", err)
	}
	if !strings.Contains(se.Detail(), "last line of postgres") {
		t.Errorf("detail %q lacks the log tail", se.Detail())
	}
	if slices.Contains(rt.order(rt.started), Backend) {
		t.Error("backend started although postgres failed")
	}
}

func TestUpReportsStartErrors(t *testing.T) {
	rt := newFakeRuntime()
	rt.startErr[OPA] = errors.New("no such image")
	err := (&Engine{Runtime: rt, Poll: time.Millisecond}).Up(context.Background(), fakeStack(t, rt), time.Minute)
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != OPA || !strings.Contains(err.Error(), "no such image") {
		t.Fatalf("err = %v, want opa's start error", err)
	}
}

func TestUpTimesOutNamingTheServiceAndTheLastProbeError(t *testing.T) {
	rt := newFakeRuntime()
	rt.readyOnStart = false
	svcs := fakeStack(t, rt)[:1] // postgres alone, never ready
	err := (&Engine{Runtime: rt, Poll: time.Millisecond}).Up(context.Background(), svcs, 30*time.Millisecond)
	var se *ServiceError
	if !errors.As(err, &se) || se.Service != Postgres {
		t.Fatalf("err = %v, want postgres' timeout", err)
	}
	if !strings.Contains(err.Error(), "not ready after") || !strings.Contains(err.Error(), "postgres not ready") {
		t.Errorf("err = %q, want the timeout and the last probe error", err)
	}
}

func TestUpStopsWhenTheCallerCancels(t *testing.T) {
	rt := newFakeRuntime()
	rt.readyOnStart = false
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Engine{Runtime: rt, Poll: time.Millisecond}).Up(ctx, fakeStack(t, rt), time.Hour) }()
	waitFor(t, func() bool { return len(rt.order(rt.started)) > 0 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestUpRejectsACycle(t *testing.T) {
	rt := newFakeRuntime()
	svcs := []Service{
		{Name: "a", DependsOn: []string{"b"}, Probe: fakeProbe{rt, "a"}},
		{Name: "b", DependsOn: []string{"a"}, Probe: fakeProbe{rt, "b"}},
	}
	err := (&Engine{Runtime: rt}).Up(context.Background(), svcs, time.Second)
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("err = %v, want a cycle error", err)
	}
}

func TestDownStopsDependentsFirstAndGoesOnPastErrors(t *testing.T) {
	rt := newFakeRuntime()
	rt.stopErr[Gateway] = errors.New("stuck")
	svcs := fakeStack(t, rt)
	err := (&Engine{Runtime: rt}).Down(context.Background(), svcs)
	if err == nil || !strings.Contains(err.Error(), "stop gateway: stuck") {
		t.Fatalf("err = %v, want gateway's stop error", err)
	}
	stopped := rt.order(rt.stopped)
	if len(stopped) != 7 {
		t.Fatalf("stopped %v, want all seven despite the error", stopped)
	}
	for _, s := range svcs {
		for _, dep := range s.DependsOn {
			if index(stopped, dep) < index(stopped, s.Name) {
				t.Errorf("%s stopped before %s, which depends on it: %v", dep, s.Name, stopped)
			}
		}
	}
}

func TestServicesPortOffsetAndEnvironment(t *testing.T) {
	svcs, err := Services(Config{PortOffset: 100, PublicKey: "/state/pub.pem"})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Service{}
	for _, s := range svcs {
		byName[s.Name] = s
	}
	if got := byName[Gateway].HostPort; got != 8190 {
		t.Errorf("gateway host port = %d, want 8190", got)
	}
	if got := byName[Gateway].Env["PLANT_BACKEND_URL"]; got != "http://127.0.0.1:8191" {
		t.Errorf("gateway PLANT_BACKEND_URL = %q", got)
	}
	if got := byName[CP].Env["PLANT_GATEWAY_URL"]; got != "http://127.0.0.1:8190" {
		t.Errorf("cp PLANT_GATEWAY_URL = %q", got)
	}
	if got := byName[Backend].Env["JWT_PUBLIC_KEY"]; got != "/state/pub.pem" {
		t.Errorf("backend JWT_PUBLIC_KEY = %q", got)
	}
	if got := byName[Postgres].URL(); got != "postgres://waooaw@127.0.0.1:5532/waooaw" {
		t.Errorf("postgres URL without secrets = %q", got)
	}
	for _, bad := range []int{-1, MaxPortOffset + 1} {
		if _, err := Services(Config{PortOffset: bad}); err == nil {
			t.Errorf("offset %d accepted", bad)
		}
	}
}

func TestSelect(t *testing.T) {
	svcs, _ := Services(Config{})
	got, err := Select(svcs, []string{"cp", "postgres"})
	if err != nil || len(got) != 2 || got[0].Name != Postgres || got[1].Name != CP {
		t.Fatalf("Select = %v, %v; want postgres, cp in start order", got, err)
	}
	if _, err := Select(svcs, []string{"nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown service: err = %v", err)
	}
}

// waitFor polls cond; the deadline only guards against a hang.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(time.Millisecond)
	}
}
