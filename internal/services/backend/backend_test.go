package backend_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waooaw/waooaw/internal/pgtest"
	"github.com/waooaw/waooaw/internal/services/backend"
	"github.com/waooaw/waooaw/internal/token"
)

// The demo customers of the seed (documented in the README).
const (
	customerA = "11111111-1111-4111-8111-111111111111"
	customerB = "22222222-2222-4222-8222-222222222222"
)

// signingKey is shared by the package's tests: RSA key generation is slow, and one key is enough.
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

// stack is one backend on its own fresh database.
type stack struct {
	t    *testing.T
	url  string
	db   string
	pool *pgxpool.Pool
	srv  *httptest.Server
}

func newStack(t *testing.T) *stack {
	t.Helper()
	db := pgtest.NewDatabase(t)
	return newStackOn(t, db)
}

func newStackOn(t *testing.T, db string) *stack {
	t.Helper()
	if _, err := backend.Migrate(db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	h, err := backend.NewServer(testConfig(t), discardLogger(), pool)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &stack{t: t, url: srv.URL, db: db, pool: pool, srv: srv}
}

func testConfig(t testing.TB) backend.Config {
	keys, err := signingKey.PublicKeySet()
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier(token.VerifierConfig{}, keys)
	if err != nil {
		t.Fatal(err)
	}
	return backend.Config{Environment: "development", BodyLimit: 1 << 20, Verifier: v}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// mint signs a token for the given roles; customer is the tenant claim ("" for none).
func mint(t testing.TB, customer string, roles ...string) string {
	t.Helper()
	c := token.NewClaims("user-"+strings.Join(roles, "-"), "user@example.com", roles, 15*time.Minute, time.Now())
	c.CustomerID = customer
	raw, err := signingKey.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func admin(t testing.TB) string { return mint(t, "", token.RoleAdmin) }

// governor is an admin acting for a governor agent: the only caller who may change the catalogue.
func governor(t testing.TB) string {
	t.Helper()
	c := token.NewClaims("user-governor", "governor@example.com", []string{token.RoleAdmin}, 15*time.Minute, time.Now())
	c.GovernorAgentID = "gov-1"
	raw, err := signingKey.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (s *stack) do(method, path, tok string, body any) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// expect checks the status and, for errors, that the body is a well-formed problem of slug.
func (s *stack) expect(r response, status int, slug string) map[string]any {
	s.t.Helper()
	if r.status != status {
		s.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if slug == "" {
		if len(r.body) == 0 {
			return nil
		}
		return r.json(s.t)
	}
	checkProblem(s.t, r, status, slug)
	return r.json(s.t)
}

// checkProblem asserts the RFC 9457 shape and that nothing of the database leaks.
func checkProblem(t *testing.T, r response, status int, slug string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	p := r.json(t)
	for _, k := range []string{"type", "title", "status", "detail", "instance", "correlation_id"} {
		if _, ok := p[k]; !ok {
			t.Errorf("problem lacks %q: %s", k, r.body)
		}
	}
	if p["type"] != "https://waooaw.com/errors/"+slug {
		t.Errorf("type %v, want slug %s", p["type"], slug)
	}
	if p["status"] != float64(status) {
		t.Errorf("status member %v, want %d", p["status"], status)
	}
	lower := strings.ToLower(string(r.body))
	for _, leak := range []string{"sqlstate", "pgx", "select ", "insert ", "violates", "syntax error at", "goroutine"} {
		if strings.Contains(lower, leak) {
			t.Errorf("problem leaks %q: %s", leak, r.body)
		}
	}
}

func violationFields(t *testing.T, p map[string]any) []string {
	t.Helper()
	vs, _ := p["violations"].([]any)
	var fields []string
	for _, v := range vs {
		fields = append(fields, v.(map[string]any)["field"].(string))
	}
	return fields
}

func (s *stack) count(table string) int {
	s.t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func (s *stack) firstAgentID() string {
	s.t.Helper()
	p := s.expect(s.do("GET", "/api/v1/agents?limit=1", admin(s.t), nil), 200, "")
	return p["items"].([]any)[0].(map[string]any)["id"].(string)
}

func TestMigrateIsIdempotentAndSeedsDeterministically(t *testing.T) {
	a := newStack(t)
	if v, err := backend.Migrate(a.db); err != nil || v != backend.SchemaVersion() {
		t.Fatalf("second migrate: version %d, err %v; want %d", v, err, backend.SchemaVersion())
	}
	for table, want := range map[string]int{"industries": 3, "agents": 50, "customers": 3} {
		if got := a.count(table); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
	}
	// Re-applying the seed changes nothing.
	seed, err := os.ReadFile("migrations/000002_seed.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.Exec(context.Background(), string(seed)); err != nil {
		t.Fatalf("re-seed: %v", err)
	}
	if got := a.count("agents"); got != 50 {
		t.Errorf("after re-seed: %d agents, want 50", got)
	}
	// A second fresh database gets the same ids and names.
	b := newStack(t)
	if a.firstAgentID() != b.firstAgentID() {
		t.Error("the seed is not deterministic: first agent ids differ between fresh databases")
	}
}

func TestConcurrentMigrationsApplyOnce(t *testing.T) {
	db := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = backend.Migrate(db)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
	s := newStackOn(t, db)
	if got := s.count("agents"); got != 50 {
		t.Errorf("%d agents after concurrent migrations, want 50", got)
	}
}

func TestHealthNeedsNoToken(t *testing.T) {
	s := newStack(t)
	h := s.expect(s.do("GET", "/health", "", nil), 200, "")
	if h["status"] != "healthy" || h["database"] != "connected" || h["migrations"] != float64(backend.SchemaVersion()) {
		t.Errorf("health = %v", h)
	}
	if _, err := time.Parse(time.RFC3339, h["timestamp"].(string)); err != nil {
		t.Errorf("timestamp: %v", err)
	}
	s.expect(s.do("GET", "/healthz", "", nil), 200, "")
}

func TestAPIRequiresToken(t *testing.T) {
	s := newStack(t)
	r := s.do("GET", "/api/v1/agents", "", nil)
	s.expect(r, 401, "unauthorized")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
	}
	s.expect(s.do("GET", "/api/v1/agents", "not.a.token", nil), 401, "invalid-token")
	s.expect(s.do("GET", "/api/nope", "", nil), 401, "unauthorized")
	s.expect(s.do("GET", "/api/v1/nope", admin(t), nil), 404, "not-found")
}

func TestListAgentsPagesInStableOrder(t *testing.T) {
	s := newStack(t)
	tok := mint(t, customerA, token.RoleCustomerUser)
	var names, ids []string
	seen := map[string]bool{}
	for offset := 0; offset < 60; offset += 20 {
		p := s.expect(s.do("GET", fmt.Sprintf("/api/v1/agents?limit=20&offset=%d", offset), tok, nil), 200, "")
		if p["total"] != float64(50) || p["limit"] != float64(20) || p["offset"] != float64(offset) {
			t.Fatalf("page envelope = total %v limit %v offset %v", p["total"], p["limit"], p["offset"])
		}
		for _, it := range p["items"].([]any) {
			a := it.(map[string]any)
			names = append(names, a["name"].(string))
			ids = append(ids, a["id"].(string))
			seen[a["id"].(string)] = true
		}
	}
	if len(ids) != 50 || len(seen) != 50 {
		t.Fatalf("got %d agents (%d distinct) over the pages, want 50", len(ids), len(seen))
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] > names[i] {
			t.Fatalf("not ordered by name: %q before %q", names[i-1], names[i])
		}
	}
	again := s.expect(s.do("GET", "/api/v1/agents?limit=20&offset=20", tok, nil), 200, "")
	if again["items"].([]any)[0].(map[string]any)["id"] != ids[20] {
		t.Error("the same page twice gave different agents")
	}
}

func TestListAgentsFilters(t *testing.T) {
	s := newStack(t)
	tok := admin(t)
	cases := []struct {
		query string
		check func(a map[string]any) bool
	}{
		{"industry=marketing", func(a map[string]any) bool { return a["industry"] == "marketing" }},
		{"status=working", func(a map[string]any) bool { return a["status"] == "working" }},
		{"q=TUTORING", func(a map[string]any) bool {
			return strings.Contains(strings.ToLower(a["name"].(string)+a["specialty"].(string)), "tutoring")
		}},
		{"industry=sales&status=available", func(a map[string]any) bool { return a["industry"] == "sales" && a["status"] == "available" }},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			p := s.expect(s.do("GET", "/api/v1/agents?limit=100&"+c.query, tok, nil), 200, "")
			items := p["items"].([]any)
			if len(items) == 0 || len(items) >= 50 || p["total"] != float64(len(items)) {
				t.Fatalf("%d items, total %v: the filter did not narrow the list", len(items), p["total"])
			}
			for _, it := range items {
				if !c.check(it.(map[string]any)) {
					t.Errorf("agent %v does not match %s", it, c.query)
				}
			}
		})
	}
	// A pattern character is matched literally.
	p := s.expect(s.do("GET", "/api/v1/agents?q=%25", tok, nil), 200, "")
	if p["total"] != float64(0) {
		t.Errorf("q=%% matched %v agents, want 0", p["total"])
	}
}

func TestListValidation(t *testing.T) {
	s := newStack(t)
	tok := admin(t)
	cases := []struct{ path, field string }{
		{"/api/v1/agents?limit=0", "limit"},
		{"/api/v1/agents?limit=101", "limit"},
		{"/api/v1/agents?limit=ten", "limit"},
		{"/api/v1/agents?offset=-1", "offset"},
		{"/api/v1/agents?status=sleeping", "status"},
		{"/api/v1/agents?industry=mining", "industry"},
		{"/api/v1/agents?q=" + strings.Repeat("x", 101), "q"},
		{"/api/v1/trials?customer_id=42", "customer_id"},
		{"/api/v1/trials?status=paused", "status"},
		{"/api/v1/customers?limit=-5", "limit"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			p := s.expect(s.do("GET", c.path, tok, nil), 422, "validation-error")
			if f := violationFields(t, p); len(f) != 1 || f[0] != c.field {
				t.Errorf("violations on %v, want [%s]", f, c.field)
			}
		})
	}
}

func TestGetAgent(t *testing.T) {
	s := newStack(t)
	tok := admin(t)
	id := s.firstAgentID()
	a := s.expect(s.do("GET", "/api/v1/agents/"+id, tok, nil), 200, "")
	if a["id"] != id || a["currency"] != "INR" {
		t.Errorf("agent = %v", a)
	}
	s.expect(s.do("GET", "/api/v1/agents/00000000-0000-4000-8000-000000000000", tok, nil), 404, "not-found")
	p := s.expect(s.do("GET", "/api/v1/agents/not-a-uuid", tok, nil), 422, "validation-error")
	if p["instance"] != "/api/v1/agents/not-a-uuid" {
		t.Errorf("instance = %v", p["instance"])
	}
}

func TestCreateAgent(t *testing.T) {
	s := newStack(t)
	tok := governor(t)
	body := map[string]any{"name": "Zed - Growth Hacking", "industry": "marketing", "specialty": "Growth", "price_monthly": 12000}
	r := s.do("POST", "/api/v1/agents", tok, body)
	a := s.expect(r, 201, "")
	loc := r.header.Get("Location")
	if loc != "/api/v1/agents/"+a["id"].(string) {
		t.Fatalf("Location %q for agent %v", loc, a["id"])
	}
	got := s.expect(s.do("GET", loc, tok, nil), 200, "")
	if got["name"] != "Zed - Growth Hacking" || got["price_monthly"] != float64(12000) || got["status"] != "available" {
		t.Errorf("created agent reads back as %v", got)
	}
	s.expect(s.do("POST", "/api/v1/agents", tok, body), 409, "conflict")
	if n := s.count("agents"); n != 51 {
		t.Errorf("%d agents, want 51", n)
	}

	bad := map[string]any{"name": " ", "industry": "mining", "specialty": strings.Repeat("s", 201), "price_monthly": -1, "currency": "inr"}
	p := s.expect(s.do("POST", "/api/v1/agents", tok, bad), 422, "validation-error")
	if f := violationFields(t, p); strings.Join(f, ",") != "name,specialty,price_monthly,currency" {
		t.Errorf("violations on %v", f)
	}
	p = s.expect(s.do("POST", "/api/v1/agents", tok, map[string]any{"name": "New", "industry": "mining", "specialty": "x"}), 422, "validation-error")
	if f := violationFields(t, p); len(f) != 1 || f[0] != "industry" {
		t.Errorf("violations on %v, want [industry]", f)
	}
	if n := s.count("agents"); n != 51 {
		t.Errorf("rejected requests wrote rows: %d agents, want 51", n)
	}
}

func TestRetireAgent(t *testing.T) {
	s := newStack(t)
	tok := governor(t)
	id := s.firstAgentID()
	s.expect(s.do("DELETE", "/api/v1/agents/"+id, tok, nil), 204, "")
	s.expect(s.do("DELETE", "/api/v1/agents/"+id, tok, nil), 204, "")
	if a := s.expect(s.do("GET", "/api/v1/agents/"+id, tok, nil), 200, ""); a["status"] != "retired" {
		t.Errorf("status %v, want retired", a["status"])
	}
	if p := s.expect(s.do("GET", "/api/v1/agents", tok, nil), 200, ""); p["total"] != float64(49) {
		t.Errorf("default list total %v, want 49 (retired agents hidden)", p["total"])
	}
	if p := s.expect(s.do("GET", "/api/v1/agents?status=retired", tok, nil), 200, ""); p["total"] != float64(1) {
		t.Errorf("retired list total %v, want 1", p["total"])
	}
	s.expect(s.do("POST", "/api/v1/trials", tok, map[string]any{"agent_id": id, "customer_id": customerA}), 422, "validation-error")
	s.expect(s.do("DELETE", "/api/v1/agents/00000000-0000-4000-8000-000000000000", tok, nil), 404, "not-found")
}

func TestTrialLifecycle(t *testing.T) {
	s := newStack(t)
	tok := mint(t, customerA, token.RoleCustomerAdmin)
	agent := s.firstAgentID()
	r := s.do("POST", "/api/v1/trials", tok, map[string]any{"agent_id": agent})
	tr := s.expect(r, 201, "")
	if r.header.Get("Location") != "/api/v1/trials/"+tr["id"].(string) {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	start, _ := time.Parse(time.RFC3339Nano, tr["start_at"].(string))
	end, _ := time.Parse(time.RFC3339Nano, tr["end_at"].(string))
	if end.Sub(start) != 7*24*time.Hour || tr["days_remaining"] != float64(7) || tr["status"] != "active" || tr["customer_id"] != customerA {
		t.Errorf("trial = %v", tr)
	}
	s.expect(s.do("POST", "/api/v1/trials", tok, map[string]any{"agent_id": agent}), 409, "conflict")

	sr := s.do("POST", "/api/v1/customers/"+customerA+"/subscription", tok, map[string]any{"agent_id": agent})
	sub := s.expect(sr, 201, "")
	if sub["trial_id"] != tr["id"] || sub["status"] != "active" {
		t.Errorf("subscription = %v", sub)
	}
	if sr.header.Get("Location") != "/api/v1/customers/"+customerA+"/subscriptions/"+sub["id"].(string) {
		t.Errorf("Location = %q", sr.header.Get("Location"))
	}
	got := s.expect(s.do("GET", "/api/v1/trials/"+tr["id"].(string), tok, nil), 200, "")
	if got["status"] != "converted" || got["days_remaining"] != float64(0) {
		t.Errorf("after subscribing the trial reads %v", got)
	}
	s.expect(s.do("POST", "/api/v1/customers/"+customerA+"/subscription", tok, map[string]any{"agent_id": agent}), 409, "conflict")
	s.expect(s.do("PATCH", "/api/v1/trials/"+tr["id"].(string), tok, map[string]any{"status": "cancelled"}), 409, "conflict")

	list := s.expect(s.do("GET", "/api/v1/customers/"+customerA+"/subscriptions", tok, nil), 200, "")
	if list["total"] != float64(1) {
		t.Errorf("subscriptions = %v", list)
	}
	path := "/api/v1/customers/" + customerA + "/subscriptions/" + sub["id"].(string)
	s.expect(s.do("DELETE", path, tok, nil), 204, "")
	s.expect(s.do("DELETE", path, tok, nil), 204, "")
	list = s.expect(s.do("GET", "/api/v1/customers/"+customerA+"/subscriptions", tok, nil), 200, "")
	if st := list["items"].([]any)[0].(map[string]any); st["status"] != "cancelled" || st["cancelled_at"] == nil {
		t.Errorf("after cancel: %v", st)
	}
	// A new trial of the same agent is possible again, and can be cancelled once.
	tr2 := s.expect(s.do("POST", "/api/v1/trials", tok, map[string]any{"agent_id": agent}), 201, "")
	p2 := "/api/v1/trials/" + tr2["id"].(string)
	if got := s.expect(s.do("PATCH", p2, tok, map[string]any{"status": "cancelled"}), 200, ""); got["status"] != "cancelled" {
		t.Errorf("PATCH gave %v", got)
	}
	s.expect(s.do("PATCH", p2, tok, map[string]any{"status": "converted"}), 409, "conflict")
	s.expect(s.do("PATCH", p2, tok, map[string]any{"status": "active"}), 422, "validation-error")
}

func TestExpiredTrialReadsExpired(t *testing.T) {
	s := newStack(t)
	tok := admin(t)
	agent := s.firstAgentID()
	tr := s.expect(s.do("POST", "/api/v1/trials", tok, map[string]any{"agent_id": agent, "customer_id": customerA}), 201, "")
	if _, err := s.pool.Exec(context.Background(),
		`UPDATE trials SET start_at = now() - interval '8 days', end_at = now() - interval '1 day' WHERE id = $1`, tr["id"]); err != nil {
		t.Fatal(err)
	}
	got := s.expect(s.do("GET", "/api/v1/trials/"+tr["id"].(string), tok, nil), 200, "")
	if got["status"] != "expired" || got["days_remaining"] != float64(0) {
		t.Errorf("trial past its end reads %v", got)
	}
	if l := s.expect(s.do("GET", "/api/v1/trials?status=expired", tok, nil), 200, ""); l["total"] != float64(1) {
		t.Errorf("status=expired lists %v", l["total"])
	}
	s.expect(s.do("PATCH", "/api/v1/trials/"+tr["id"].(string), tok, map[string]any{"status": "converted"}), 409, "conflict")
	// The expired trial does not block a new one.
	s.expect(s.do("POST", "/api/v1/trials", tok, map[string]any{"agent_id": agent, "customer_id": customerA}), 201, "")
}

func TestConcurrentTrialCreatesExactlyOneWins(t *testing.T) {
	s := newStack(t)
	tok := mint(t, customerB, token.RoleCustomerUser)
	agent := s.firstAgentID()
	const n = 12
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", s.url+"/api/v1/trials", strings.NewReader(`{"agent_id":"`+agent+`"}`))
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			statuses[i] = res.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for _, st := range statuses {
		switch st {
		case 201:
			won++
		case 409:
		default:
			t.Errorf("status %d, want 201 or 409", st)
		}
	}
	if won != 1 {
		t.Errorf("%d creates won, want exactly 1 (%v)", won, statuses)
	}
	if n := s.count("trials"); n != 1 {
		t.Errorf("%d trial rows, want 1", n)
	}
}

func TestTenantIsolation(t *testing.T) {
	s := newStack(t)
	agent := s.firstAgentID()
	tokA := mint(t, customerA, token.RoleCustomerAdmin)
	tokB := mint(t, customerB, token.RoleCustomerUser)
	trA := s.expect(s.do("POST", "/api/v1/trials", tokA, map[string]any{"agent_id": agent}), 201, "")
	trB := s.expect(s.do("POST", "/api/v1/trials", tokB, map[string]any{"agent_id": agent}), 201, "")

	l := s.expect(s.do("GET", "/api/v1/trials", tokA, nil), 200, "")
	if l["total"] != float64(1) || l["items"].([]any)[0].(map[string]any)["id"] != trA["id"] {
		t.Errorf("customer A lists %v", l)
	}
	if l := s.expect(s.do("GET", "/api/v1/trials?customer_id="+customerB, tokA, nil), 200, ""); l["total"] != float64(0) {
		t.Errorf("customer A filtering on B sees %v trials", l["total"])
	}
	s.expect(s.do("GET", "/api/v1/trials/"+trB["id"].(string), tokA, nil), 404, "not-found")
	s.expect(s.do("PATCH", "/api/v1/trials/"+trB["id"].(string), tokA, map[string]any{"status": "cancelled"}), 404, "not-found")
	s.expect(s.do("GET", "/api/v1/customers/"+customerB, tokA, nil), 404, "not-found")
	s.expect(s.do("GET", "/api/v1/customers/"+customerB+"/subscriptions", tokA, nil), 404, "not-found")
	s.expect(s.do("POST", "/api/v1/customers/"+customerB+"/subscription", tokA, map[string]any{"agent_id": agent}), 404, "not-found")
	s.expect(s.do("POST", "/api/v1/trials", tokA, map[string]any{"agent_id": agent, "customer_id": customerB}), 422, "validation-error")
	if c := s.expect(s.do("GET", "/api/v1/customers", tokA, nil), 200, ""); c["total"] != float64(1) {
		t.Errorf("customer A lists %v customers, want 1", c["total"])
	}
	// Platform roles see every tenant.
	if l := s.expect(s.do("GET", "/api/v1/trials", mint(t, "", token.RoleHelpdeskAgent), nil), 200, ""); l["total"] != float64(2) {
		t.Errorf("helpdesk sees %v trials, want 2", l["total"])
	}
	// A token that names a customer is that tenant's, whatever platform role it holds.
	for _, role := range []string{token.RoleAdmin, token.RoleSubscriptionManager, token.RoleHelpdeskAgent} {
		scoped := mint(t, customerA, role)
		if l := s.expect(s.do("GET", "/api/v1/trials", scoped, nil), 200, ""); l["total"] != float64(1) {
			t.Errorf("%s of customer A sees %v trials, want 1", role, l["total"])
		}
		s.expect(s.do("GET", "/api/v1/trials/"+trB["id"].(string), scoped, nil), 404, "not-found")
		s.expect(s.do("GET", "/api/v1/customers/"+customerB, scoped, nil), 404, "not-found")
		if role != token.RoleHelpdeskAgent { // helpdesk may only read
			s.expect(s.do("PATCH", "/api/v1/trials/"+trB["id"].(string), scoped, map[string]any{"status": "cancelled"}), 404, "not-found")
			s.expect(s.do("POST", "/api/v1/trials", scoped, map[string]any{"agent_id": agent, "customer_id": customerB}), 422, "validation-error")
		}
	}
	// A token mixing customer and platform roles is no token at all.
	s.expect(s.do("GET", "/api/v1/customers/"+customerB, mint(t, customerA, token.RoleCustomerAdmin, token.RoleViewer), nil), 401, "invalid-token")
	// A customer token without a customer sees nothing and can create nothing.
	orphan := mint(t, "", token.RoleCustomerUser)
	if l := s.expect(s.do("GET", "/api/v1/trials", orphan, nil), 200, ""); l["total"] != float64(0) {
		t.Errorf("tenant-less customer sees %v trials", l["total"])
	}
	s.expect(s.do("POST", "/api/v1/trials", orphan, map[string]any{"agent_id": agent}), 422, "validation-error")
}

func TestCustomers(t *testing.T) {
	s := newStack(t)
	tok := mint(t, "", token.RoleSubscriptionManager)
	r := s.do("POST", "/api/v1/customers", tok, map[string]any{"name": "Dana", "email": "Dana@Example.com", "company": "Dana Co"})
	c := s.expect(r, 201, "")
	if r.header.Get("Location") != "/api/v1/customers/"+c["id"].(string) {
		t.Errorf("Location = %q", r.header.Get("Location"))
	}
	s.expect(s.do("POST", "/api/v1/customers", tok, map[string]any{"name": "Dana 2", "email": "dana@example.COM"}), 409, "conflict")
	p := s.expect(s.do("POST", "/api/v1/customers", tok, map[string]any{"name": "", "email": "not-an-email"}), 422, "validation-error")
	if f := violationFields(t, p); strings.Join(f, ",") != "name,email" {
		t.Errorf("violations on %v", f)
	}
	if l := s.expect(s.do("GET", "/api/v1/customers", tok, nil), 200, ""); l["total"] != float64(4) {
		t.Errorf("total %v, want 4", l["total"])
	}
	s.expect(s.do("GET", "/api/v1/customers/"+c["id"].(string), tok, nil), 200, "")
}

func TestBadInputIsRejectedAndWritesNothing(t *testing.T) {
	s := newStack(t)
	tok := governor(t)
	agent := s.firstAgentID()
	huge := bytes.Repeat([]byte("a"), 20<<20)
	cases := []struct {
		name   string
		body   any
		status int
		slug   string
	}{
		{"garbage", "{not json", 422, "validation-error"},
		{"empty", "", 422, "validation-error"},
		{"array", `[1,2]`, 422, "validation-error"},
		{"wrong type", `{"agent_id": 42}`, 422, "validation-error"},
		{"unknown field", `{"agent_id":"` + agent + `","customer_id":"` + customerA + `","admin":true}`, 422, "validation-error"},
		{"two objects", `{"agent_id":"` + agent + `","customer_id":"` + customerA + `"}{}`, 422, "validation-error"},
		{"20 MiB", append(append([]byte(`{"agent_id":"`), huge...), `"}`...), 413, "payload-too-large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.expect(s.do("POST", "/api/v1/trials", tok, c.body), c.status, c.slug)
		})
	}
	if n := s.count("trials"); n != 0 {
		t.Errorf("rejected requests wrote %d trials", n)
	}
	// The same for agents: a wrong type names the field.
	p := s.expect(s.do("POST", "/api/v1/agents", tok, `{"name":"X","industry":"sales","specialty":"y","price_monthly":"cheap"}`), 422, "validation-error")
	if f := violationFields(t, p); len(f) != 1 || f[0] != "price_monthly" {
		t.Errorf("violations on %v, want [price_monthly]", f)
	}
	if n := s.count("agents"); n != 50 {
		t.Errorf("rejected requests wrote agents: %d", n)
	}
}

func TestCorrelationIDInProblems(t *testing.T) {
	s := newStack(t)
	req, _ := http.NewRequest("GET", s.url+"/api/v1/agents/nope", nil)
	req.Header.Set("Authorization", "Bearer "+admin(t))
	req.Header.Set("X-Correlation-ID", "test-corr-123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p map[string]any
	json.NewDecoder(res.Body).Decode(&p)
	if p["correlation_id"] != "test-corr-123" || res.Header.Get("X-Correlation-ID") != "test-corr-123" {
		t.Errorf("correlation id: body %v, header %q", p["correlation_id"], res.Header.Get("X-Correlation-ID"))
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := newStack(t)
	r := s.expect(s.do("GET", "/openapi.json", "", nil), 200, "")
	paths := r["paths"].(map[string]any)
	routes := []string{
		"GET /api/v1/industries", "GET /api/v1/agents", "POST /api/v1/agents", "GET /api/v1/agents/{id}",
		"DELETE /api/v1/agents/{id}", "GET /api/v1/customers", "POST /api/v1/customers", "GET /api/v1/customers/{id}",
		"POST /api/v1/customers/{id}/subscription", "GET /api/v1/customers/{id}/subscriptions",
		"DELETE /api/v1/customers/{id}/subscriptions/{sid}", "POST /api/v1/trials", "GET /api/v1/trials",
		"GET /api/v1/trials/{id}", "PATCH /api/v1/trials/{id}",
	}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt, " ")
		ops, ok := paths[path].(map[string]any)
		if !ok || ops[strings.ToLower(method)] == nil {
			t.Errorf("openapi.json lacks %s", rt)
		}
		// And the route really exists: without a token it is a 401, not a 404 or 405.
		if res := s.do(method, strings.NewReplacer("{id}", customerA, "{sid}", customerB).Replace(path), "", nil); res.status != 401 {
			t.Errorf("%s answered %d without a token, want 401", rt, res.status)
		}
	}
	// The document lists where it was served from, not fixed ports a shifted stack does not use.
	if sv, _ := r["servers"].([]any); len(sv) != 1 || sv[0].(map[string]any)["url"] != "/" {
		t.Errorf("servers %v, want the relative URL /", r["servers"])
	}
	docs := s.do("GET", "/docs", "", nil)
	if docs.status != 200 || !strings.Contains(string(docs.body), "/api/v1/trials/{id}") {
		t.Errorf("/docs: %d", docs.status)
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	s := newStack(t)
	s.do("GET", "/api/v1/agents/"+s.firstAgentID(), admin(t), nil)
	m := s.do("GET", "/metrics", "", nil)
	for _, want := range []string{`route="/api/v1/agents/{id}"`, "waooaw_backend_db_pool_connections"} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
