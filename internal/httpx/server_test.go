package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// closeSignalListener reports when the server closes it, which is the first
// thing a graceful shutdown does.
type closeSignalListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *closeSignalListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func listenLocal(t *testing.T) *closeSignalListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &closeSignalListener{Listener: ln, closed: make(chan struct{})}
}

type result struct {
	status int
	body   string
	err    error
}

func (r result) String() string {
	return fmt.Sprintf("status %d body %q error %v", r.status, r.body, r.err)
}

func fetch(url string) result {
	resp, err := http.Get(url)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: string(body), err: err}
}

func TestServeDrainsInFlightRequests(t *testing.T) {
	logger, sink := newTestLogger(t)
	ln := listenLocal(t)
	addr := ln.Addr().String()
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		if err := r.Context().Err(); err != nil {
			http.Error(w, "request context cancelled by shutdown: "+err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "done")
	})

	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, h, ServerConfig{}, logger) }()

	inFlight := make(chan result, 1)
	go func() { inFlight <- fetch("http://" + addr + "/") }()
	<-started

	cancel()
	<-ln.closed // shutdown has begun: no new connections
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Errorf("a new connection was accepted during shutdown")
	}
	close(release)

	if got := <-inFlight; got.err != nil || got.status != http.StatusOK || got.body != "done" {
		t.Errorf("in-flight request: %v; want 200 done", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after a clean shutdown", err)
	}
	listening := sink.withMsg(t, "listening")
	if len(listening) != 1 || listening[0]["addr"] != addr {
		t.Errorf("listening lines = %v, want one with addr %s", listening, addr)
	}
	if len(sink.withMsg(t, "stopped")) != 1 {
		t.Errorf("no stopped line in:\n%s", sink)
	}
}

func TestServeCutsOffRequestsAfterShutdownTimeout(t *testing.T) {
	logger, _ := newTestLogger(t)
	ln := listenLocal(t)
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(started)
		<-release
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	// The timeout only bounds the drain; no assertion depends on its length.
	go func() { served <- Serve(ctx, ln, h, ServerConfig{ShutdownTimeout: time.Millisecond}, logger) }()
	inFlight := make(chan result, 1)
	go func() { inFlight <- fetch("http://" + ln.Addr().String() + "/") }()
	<-started
	cancel()

	err := <-served
	if err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Errorf("Serve = %v, want an error saying requests were cut off", err)
	}
	if got := <-inFlight; got.err == nil {
		t.Errorf("in-flight request: %v; want a broken connection", got)
	}
}

func TestListenAndServePortInUse(t *testing.T) {
	logger, _ := newTestLogger(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()

	err = ListenAndServe(context.Background(), addr, http.NotFoundHandler(), ServerConfig{}, logger)
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("ListenAndServe = %v, want an error naming %s", err, addr)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("err = %v, want it to wrap EADDRINUSE", err)
	}
}

func TestServerConfigDefaults(t *testing.T) {
	got := ServerConfig{}.withDefaults()
	want := ServerConfig{
		ReadHeaderTimeout:  5 * time.Second,
		ReadTimeout:        30 * time.Second,
		IdleTimeout:        120 * time.Second,
		ShutdownTimeout:    10 * time.Second,
		MaxHeaderBytes:     64 << 10,
		HardMaxHeaderBytes: 1 << 20,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if kept := (ServerConfig{ReadTimeout: time.Minute}).withDefaults(); kept.ReadTimeout != time.Minute {
		t.Errorf("explicit ReadTimeout replaced: %v", kept.ReadTimeout)
	}
}
