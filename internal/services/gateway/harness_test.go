package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waooaw/waooaw/internal/pgtest"
	"github.com/waooaw/waooaw/internal/policy"
	"github.com/waooaw/waooaw/internal/redistest"
	"github.com/waooaw/waooaw/internal/services/backend"
	"github.com/waooaw/waooaw/internal/services/gateway"
	"github.com/waooaw/waooaw/internal/token"
)

const (
	customerA = "11111111-1111-4111-8111-111111111111"
	customerB = "22222222-2222-4222-8222-222222222222"
	agentAria = "112ce31d-729a-51f6-b47b-08175182b313"
)

// signingKey signs every token of the package's tests (RSA generation is slow).
var signingKey *token.SigningKey

func TestMain(m *testing.M) {
	k, err := token.GenerateSigningKey(token.RS256)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	signingKey = k
	os.Exit(pgtest.Run(m))
}

// stack is a gateway in front of real parts: the backend on PostgreSQL (or a recording
// stand-in, for what only the upstream can observe), Redis and the embedded OPA.
type stack struct {
	t      testing.TB
	url    string // the gateway
	cfg    gateway.Config
	db     string
	pool   *pgxpool.Pool
	redis  *redistest.Server
	opa    *opaProc
	echo   *echoUpstream // set when the backend is the recording stand-in
	stopGW func()
	gwLog  *syncBuffer
}

type option func(*stack, *gateway.Config)

// withEcho puts the recording stand-in where the backend would be.
func withEcho() option {
	return func(s *stack, c *gateway.Config) {
		s.echo = newEchoUpstream(s.t)
		c.BackendURL = mustURL(s.echo.srv.URL)
	}
}

func withLimits(agentDaily, platformMonthly int64) option {
	return func(_ *stack, c *gateway.Config) {
		c.Limits.AgentDailyMicros, c.Limits.PlatformMonthlyMicros = agentDaily, platformMonthly
	}
}

func newStack(t testing.TB, opts ...option) *stack {
	t.Helper()
	s := &stack{t: t, gwLog: &syncBuffer{}}
	s.db = pgtest.NewDatabase(t)
	if _, err := backend.Migrate(s.db); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.pool, err = pgxpool.New(context.Background(), s.db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.pool.Close)
	s.redis = redistest.New(t)
	s.opa = startOPA(t, "127.0.0.1:0")

	keys, _ := signingKey.PublicKeySet()
	verifier, err := token.NewVerifier(token.VerifierConfig{}, keys)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gateway.Config{
		RedisURL:    s.redis.URL(),
		RedisPrefix: s.redis.Prefix(),
		OPAURL:      s.opa.url,
		DatabaseURL: s.db,
		Verifier:    verifier,
		Keys:        keys,
		ApprovalURL: "http://pp.test/approvals",
		UpgradeURL:  "http://cp.test/upgrade",
		Limits: policy.Limits{
			CostPerRequestMicros: 1000, AgentDailyMicros: 1_000_000,
			PlatformMonthlyMicros: 100_000_000, TrialTasksPerDay: 10,
		},
		OPATimeout:       2 * time.Second,
		UpstreamTimeout:  5 * time.Second,
		DecisionCacheTTL: time.Second,
		BodyLimit:        10 << 20,
		Environment:      "development",
		Version:          "test",
	}
	for _, o := range opts {
		o(s, &cfg)
	}
	if cfg.BackendURL == nil {
		cfg.BackendURL = mustURL(startBackend(t, s.pool, verifier))
	}
	s.cfg = cfg
	s.startGateway()
	return s
}

func (s *stack) startGateway() {
	t := s.t
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logger := slog.New(slog.NewJSONHandler(s.gwLog, nil))
	go func() { done <- gateway.Run(ctx, s.cfg, logger, ln) }()
	s.url = "http://" + ln.Addr().String()
	var once sync.Once
	s.stopGW = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("gateway.Run: %v", err)
			}
		})
	}
	t.Cleanup(s.stopGW)
}

func startBackend(t testing.TB, pool *pgxpool.Pool, v *token.Verifier) string {
	t.Helper()
	h, err := backend.NewServer(backend.Config{BodyLimit: 1 << 20, Verifier: v}, slog.New(slog.DiscardHandler), pool)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// opaProc is the embedded OPA server, stoppable and restartable on its address.
type opaProc struct {
	t      testing.TB
	addr   string
	url    string
	cancel func()
	done   chan error
}

func startOPA(t testing.TB, addr string) *opaProc {
	t.Helper()
	p := &opaProc{t: t, addr: addr}
	p.launch()
	t.Cleanup(p.stop)
	return p
}

// launch starts the server on p.addr (the first time maybe port 0, then the port it got).
func (p *opaProc) launch() {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := policy.Listen(ctx, policy.ServerConfig{Addr: p.addr})
	if err != nil {
		cancel()
		p.t.Fatal(err)
	}
	p.addr, p.url, p.cancel, p.done = srv.Addr(), srv.URL(), cancel, make(chan error, 1)
	go func() { p.done <- srv.Serve(ctx) }()
}

func (p *opaProc) stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
		p.cancel = nil
	}
}

func (p *opaProc) restart() { p.launch() }

// echoUpstream records what reaches the backend's place and answers with it.
type echoUpstream struct {
	srv   *httptest.Server
	hits  atomic.Int64
	delay atomic.Int64 // nanoseconds to wait before answering
	mu    sync.Mutex
	last  *http.Request
}

func newEchoUpstream(t testing.TB) *echoUpstream {
	e := &echoUpstream{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		if d := time.Duration(e.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		e.mu.Lock()
		e.last = r.Clone(context.Background())
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header})
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *echoUpstream) lastRequest() *http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// mint signs a token; mutate adjusts the claims before signing.
func mint(t testing.TB, roles []string, mutate func(*token.Claims)) string {
	t.Helper()
	c := token.NewClaims("user-"+strings.Join(roles, "-"), "user@example.com", roles, 15*time.Minute, time.Now())
	if len(roles) > 0 && token.IsCustomerRole(roles[0]) {
		c.CustomerID = customerA
	}
	if mutate != nil {
		mutate(c)
	}
	raw, err := signingKey.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func role(t testing.TB, r string) string { return mint(t, []string{r}, nil) }

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not a JSON object (%d): %s", r.status, r.body)
	}
	return m
}

type req struct {
	method, path, token string
	body                any
	header              map[string]string
}

func (s *stack) do(rq req) response {
	s.t.Helper()
	var rd io.Reader
	switch b := rq.body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	method := rq.method
	if method == "" {
		method = "GET"
	}
	r, err := http.NewRequest(method, s.url+rq.path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if rq.token != "" {
		r.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for k, v := range rq.header {
		r.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(r)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, rq.path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, data}
}

// problem asserts r is a problem of the slug and status, and returns its members.
func problem(t *testing.T, r response, status int, slug string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d %s: %s", r.status, status, slug, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	p := r.json(t)
	if p["type"] != "https://waooaw.com/errors/"+slug {
		t.Errorf("type %v, want %s", p["type"], slug)
	}
	for _, k := range []string{"title", "status", "detail", "instance", "correlation_id"} {
		if p[k] == nil {
			t.Errorf("problem lacks %s: %s", k, r.body)
		}
	}
	return p
}

func ok(t *testing.T, r response, status int) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if len(r.body) == 0 {
		return nil
	}
	return r.json(t)
}

// metric scrapes the gateway's /metrics and returns the value of the first series whose line
// starts with prefix (0 when absent).
func (s *stack) metric(prefix string) float64 {
	s.t.Helper()
	r := s.do(req{path: "/metrics"})
	for _, line := range strings.Split(string(r.body), "\n") {
		if strings.HasPrefix(line, prefix) {
			var v float64
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			return v
		}
	}
	return 0
}

// eventually polls cond; the bound only keeps a broken test from hanging.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s never happened", what)
}
