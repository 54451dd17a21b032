package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Runtime runs services: the local runtime as child processes of a supervisor, the Docker
// runtime as containers. The engine decides order and readiness; a runtime only starts, watches
// and stops one service at a time.
type Runtime interface {
	// Name is "local" or "docker".
	Name() string
	// Start starts svc, or leaves it be when it already runs, and returns without waiting for
	// it to be ready.
	Start(ctx context.Context, svc Service) error
	// Exited returns an error describing the exit once svc's process or container has stopped
	// since Start, and nil while it runs: the engine stops waiting for a service that died.
	Exited(svc Service) error
	// Stop stops svc and waits for it to be gone, within ctx.
	Stop(ctx context.Context, svc Service) error
	// LogTail returns up to n of svc's last log lines, for failure messages.
	LogTail(svc Service, n int) []string
}

// EventKind is what happened to a service.
type EventKind string

// The events the engine emits, in the order a service goes through them.
const (
	EventStarting EventKind = "starting"
	EventWaiting  EventKind = "waiting"
	EventReady    EventKind = "ready"
	EventFailed   EventKind = "failed"
	EventStopping EventKind = "stopping"
	EventStopped  EventKind = "stopped"
)

// Event is one step of one service, for progress displays.
type Event struct {
	Service string        `json:"service"`
	Kind    EventKind     `json:"kind"`
	Elapsed time.Duration `json:"elapsed_ns"` // since the engine began this Up or Down
	URL     string        `json:"url,omitempty"`
	Error   string        `json:"error,omitempty"`
}

// ServiceError is a service that did not become ready, with its last log lines.
type ServiceError struct {
	Service string
	Err     error
	LogTail []string
}

func (e *ServiceError) Error() string {
	return fmt.Sprintf("%s: %v", e.Service, e.Err)
}

func (e *ServiceError) Unwrap() error { return e.Err }

// Detail returns the error with the service's last log lines, indented, for people.
func (e *ServiceError) Detail() string {
	if len(e.LogTail) == 0 {
		return e.Error()
	}
	return e.Error() + "\n  last log lines of " + e.Service + ":\n    " + strings.Join(e.LogTail, "\n    ")
}

// ErrExited is wrapped by a runtime's Exited error.
var ErrExited = errors.New("exited")

// Engine brings services up in dependency order and down in reverse.
type Engine struct {
	Runtime Runtime
	// Events receives progress; calls are serialised. Nil discards them.
	Events func(Event)
	// Poll is the interval between readiness probes (default 20ms: a start is dominated by
	// how soon we notice readiness).
	Poll time.Duration
	// ProbeTimeout bounds one probe (default 1s).
	ProbeTimeout time.Duration
	// LogLines is how many log lines a failure carries (default 15).
	LogLines int

	mu    sync.Mutex
	start time.Time
}

func (e *Engine) emit(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ev.Elapsed = time.Since(e.start)
	if e.Events != nil {
		e.Events(ev)
	}
}

func (e *Engine) defaults() {
	if e.Poll <= 0 {
		e.Poll = 20 * time.Millisecond
	}
	if e.ProbeTimeout <= 0 {
		e.ProbeTimeout = time.Second
	}
	if e.LogLines <= 0 {
		e.LogLines = 15
	}
	e.start = time.Now()
}

// Up starts svcs, each as soon as the ones it depends on are ready, and returns when all are
// ready. The first service that fails — exits, or is not ready within timeout — cancels the
// rest and is returned as a *ServiceError. Services already running are left running.
func (e *Engine) Up(ctx context.Context, svcs []Service, timeout time.Duration) error {
	e.defaults()
	if err := checkGraph(svcs); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, timeout)
		defer stop()
	}

	ready := make(map[string]chan struct{}, len(svcs))
	for _, s := range svcs {
		ready[s.Name] = make(chan struct{})
	}
	var (
		wg       sync.WaitGroup
		firstErr error
		errOnce  sync.Once
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel(err) })
	}
	for _, s := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, dep := range s.DependsOn {
				ch, ok := ready[dep]
				if !ok {
					continue // not part of this run: assumed up
				}
				select {
				case <-ch:
				case <-ctx.Done():
					return
				}
			}
			if err := e.upOne(ctx, s, timeout); err != nil {
				fail(err)
				return
			}
			close(ready[s.Name])
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return context.Cause(ctx) // interrupted by the caller, if at all
}

func (e *Engine) upOne(ctx context.Context, s Service, timeout time.Duration) error {
	e.emit(Event{Service: s.Name, Kind: EventStarting})
	failed := func(err error) error {
		se := &ServiceError{Service: s.Name, Err: err, LogTail: e.Runtime.LogTail(s, e.LogLines)}
		e.emit(Event{Service: s.Name, Kind: EventFailed, Error: err.Error()})
		return se
	}
	if err := e.Runtime.Start(ctx, s); err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return context.Cause(ctx) // another service failed first, or the caller gave up
		}
		return failed(fmt.Errorf("start: %w", err))
	}
	e.emit(Event{Service: s.Name, Kind: EventWaiting})
	var last error
	for {
		if err := e.Runtime.Exited(s); err != nil {
			return failed(err)
		}
		pctx, cancel := context.WithTimeout(ctx, e.ProbeTimeout)
		last = s.Probe.Check(pctx)
		cancel()
		if last == nil {
			e.emit(Event{Service: s.Name, Kind: EventReady, URL: s.DisplayURL()})
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return failed(fmt.Errorf("not ready after %v: %w", timeout, last))
			}
			return context.Cause(ctx) // another service failed first, or the caller gave up
		case <-time.After(e.Poll):
		}
	}
}

// Down stops svcs, each after every service that depends on it has stopped. It goes on past
// errors and returns them joined.
func (e *Engine) Down(ctx context.Context, svcs []Service) error {
	e.defaults()
	stopped := make(map[string]chan struct{}, len(svcs))
	for _, s := range svcs {
		stopped[s.Name] = make(chan struct{})
	}
	dependents := map[string][]string{}
	for _, s := range svcs {
		for _, d := range s.DependsOn {
			dependents[d] = append(dependents[d], s.Name)
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, s := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(stopped[s.Name])
			for _, d := range dependents[s.Name] {
				if ch, ok := stopped[d]; ok {
					<-ch
				}
			}
			e.emit(Event{Service: s.Name, Kind: EventStopping})
			if err := e.Runtime.Stop(ctx, s); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("stop %s: %w", s.Name, err))
				mu.Unlock()
				e.emit(Event{Service: s.Name, Kind: EventFailed, Error: err.Error()})
				return
			}
			e.emit(Event{Service: s.Name, Kind: EventStopped})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// checkGraph rejects a dependency cycle, which would make Up wait forever.
func checkGraph(svcs []Service) error {
	deps := map[string][]string{}
	for _, s := range svcs {
		deps[s.Name] = s.DependsOn
	}
	const (
		visiting = 1
		done     = 2
	)
	mark := map[string]int{}
	var visit func(string, []string) error
	visit = func(n string, path []string) error {
		switch mark[n] {
		case visiting:
			return fmt.Errorf("dependency cycle: %s", strings.Join(append(path, n), " → "))
		case done:
			return nil
		}
		mark[n] = visiting
		for _, d := range deps[n] {
			if _, ok := deps[d]; ok {
				if err := visit(d, append(path, n)); err != nil {
					return err
				}
			}
		}
		mark[n] = done
		return nil
	}
	for _, s := range svcs {
		if err := visit(s.Name, nil); err != nil {
			return err
		}
	}
	return nil
}
