package backend_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waooaw/waooaw/internal/pgtest"
	"github.com/waooaw/waooaw/internal/services/backend"
	"github.com/waooaw/waooaw/internal/token"
)

// in returns the stack reporting to t, so a subtest's failure stops only that subtest.
func (s *stack) in(t *testing.T) *stack {
	c := *s
	c.t = t
	return &c
}

// TestQueryParametersWithBadBytes: NUL, invalid UTF-8 and other control characters in any list
// operation's query are a 422 naming the parameter, never the 500 PostgreSQL's refusal made.
func TestQueryParametersWithBadBytes(t *testing.T) {
	s := newStack(t)
	tok := admin(t)
	tests := []struct {
		path, field string
	}{
		{"/api/v1/agents?q=%00", "q"},
		{"/api/v1/agents?q=%ff", "q"},
		{"/api/v1/agents?q=%c3", "q"},
		{"/api/v1/agents?q=abc%ed%a0%80", "q"}, // an encoded surrogate is not UTF-8
		{"/api/v1/agents?q=a%0Ab", "q"},
		{"/api/v1/agents?industry=%00", "industry"},
		{"/api/v1/agents?industry=%ff", "industry"},
		{"/api/v1/agents?status=%00", "status"},
		{"/api/v1/agents?limit=%00", "limit"},
		{"/api/v1/agents?offset=1&offset=%ff", "offset"},
		{"/api/v1/agents?%00=1", "%00"},
		{"/api/v1/agents?q=%zz", "query"},
		{"/api/v1/customers?offset=%c3", "offset"},
		{"/api/v1/trials?customer_id=%00", "customer_id"},
		{"/api/v1/trials?status=%ff", "status"},
		{"/api/v1/industries?x=%00", "x"},
		{"/api/v1/customers/" + customerA + "/subscriptions?x=%ff", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s := s.in(t)
			p := s.expect(s.do("GET", tt.path, tok, nil), 422, "validation-error")
			if f := violationFields(t, p); len(f) != 1 || f[0] != tt.field {
				t.Errorf("violations on %v, want [%s]", f, tt.field)
			}
		})
	}
	// Valid non-ASCII and a known industry still work.
	s.expect(s.do("GET", "/api/v1/agents?q=%C3%A9&industry=sales", tok, nil), 200, "")
	p := s.expect(s.do("GET", "/api/v1/agents?industry=Sales%20%2F%20x", tok, nil), 422, "validation-error")
	if f := violationFields(t, p); len(f) != 1 || f[0] != "industry" {
		t.Errorf("violations on %v, want [industry]", f)
	}
}

// TestAgentNamesAreUniqueIgnoringCase: a name differing from another only in case is a
// conflict, the seed's names included.
func TestAgentNamesAreUniqueIgnoringCase(t *testing.T) {
	s := newStack(t)
	tok := governor(t)
	create := func(name string) response {
		return s.do("POST", "/api/v1/agents", tok, map[string]any{"name": name, "industry": "sales", "specialty": "Growth"})
	}
	s.expect(create("Zed - Growth Hacking"), 201, "")
	for _, dup := range []string{"zed - growth hacking", "ZED - GROWTH HACKING", "Zed - Growth Hacking", "aria - content strategy"} {
		s.expect(create(dup), 409, "conflict")
	}
	var icu bool
	if err := s.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')`).Scan(&icu); err != nil {
		t.Fatal(err)
	}
	if !icu {
		t.Log("PostgreSQL without ICU: non-ASCII names fold only as the database locale does; not checked")
		return
	}
	s.expect(create("Émile - Ärt Direction"), 201, "")
	s.expect(create("émile - ärt direction"), 409, "conflict")
}

// TestTextFieldsRefuseControlsAndBadUTF8: control, bidi and other invisible formatting
// characters, and invalid UTF-8 in the raw body, are a 422 on agent and customer text fields;
// nothing is written.
func TestTextFieldsRefuseControlsAndBadUTF8(t *testing.T) {
	s := newStack(t)
	agentTok, customerTok := governor(t), mint(t, "", token.RoleSubscriptionManager)
	agent := func(name, specialty string) map[string]any {
		return map[string]any{"name": name, "industry": "sales", "specialty": specialty}
	}
	customer := func(field, value string) map[string]any {
		c := map[string]any{"name": "Dana", "email": "dana@example.com"}
		c[field] = value
		return c
	}
	tests := []struct {
		name, path, tok string
		body            any
		field           string
	}{
		{"RLO in name", "/api/v1/agents", agentTok, agent("Evil\u202Egnp.exe", "x"), "name"},
		{"LRE in name", "/api/v1/agents", agentTok, agent("a\u202Ab", "x"), "name"},
		{"PDF in name", "/api/v1/agents", agentTok, agent("a\u202Cb", "x"), "name"},
		{"LRI in specialty", "/api/v1/agents", agentTok, agent("ok name", "a\u2066b"), "specialty"},
		{"PDI in specialty", "/api/v1/agents", agentTok, agent("ok name", "a\u2069b"), "specialty"},
		{"LRM in name", "/api/v1/agents", agentTok, agent("a\u200Eb", "x"), "name"},
		{"RLM in name", "/api/v1/agents", agentTok, agent("a\u200Fb", "x"), "name"},
		{"zero-width space", "/api/v1/agents", agentTok, agent("a\u200Bb", "x"), "name"},
		{"BOM", "/api/v1/agents", agentTok, agent("\uFEFFname", "x"), "name"},
		{"NUL", "/api/v1/agents", agentTok, agent("a\u0000b", "x"), "name"},
		{"C1 control", "/api/v1/agents", agentTok, agent("a\u0085b", "x"), "name"},
		{"line separator", "/api/v1/agents", agentTok, agent("a\u2028b", "x"), "name"},
		{"NUL industry", "/api/v1/agents", agentTok, map[string]any{"name": "n", "industry": "sa\u0000les", "specialty": "x"}, "industry"},
		{"invalid UTF-8 name", "/api/v1/agents", agentTok, "{\"name\":\"Ad\xffa\",\"industry\":\"sales\",\"specialty\":\"x\"}", "body"},
		{"invalid UTF-8 specialty", "/api/v1/agents", agentTok, "{\"name\":\"Ada\",\"industry\":\"sales\",\"specialty\":\"\xc3\"}", "body"},
		{"RLO in customer name", "/api/v1/customers", customerTok, customer("name", "Dana\u202E"), "name"},
		{"RLM in company", "/api/v1/customers", customerTok, customer("company", "Co\u200F"), "company"},
		{"NUL in phone", "/api/v1/customers", customerTok, customer("phone", "+91\u0000"), "phone"},
		{"RLO in email", "/api/v1/customers", customerTok, customer("email", "a\u202E@example.com"), "email"},
		{"invalid UTF-8 company", "/api/v1/customers", customerTok, "{\"name\":\"Dana\",\"email\":\"d@example.com\",\"company\":\"\xfe\"}", "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.in(t)
			p := s.expect(s.do("POST", tt.path, tt.tok, tt.body), 422, "validation-error")
			if f := violationFields(t, p); len(f) != 1 || f[0] != tt.field {
				t.Errorf("violations on %v, want [%s]", f, tt.field)
			}
		})
	}
	if n := s.count("agents"); n != 50 {
		t.Errorf("rejected requests wrote agents: %d", n)
	}
	if n := s.count("customers"); n != 3 {
		t.Errorf("rejected requests wrote customers: %d", n)
	}
	// Non-ASCII letters themselves are welcome.
	s.expect(s.do("POST", "/api/v1/agents", agentTok, agent("Zoë – Análisis", "Señales")), 201, "")
}

// TestOversizedHeadersAreProblems runs the backend as `waooaw serve backend` does, so that the
// real server's header limits apply: over the limit is a 431 problem, not Go's plain text.
func TestOversizedHeadersAreProblems(t *testing.T) {
	cfg := testConfig(t)
	cfg.DatabaseURL, cfg.DBWait = pgtest.NewDatabase(t), 30*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- backend.Run(ctx, cfg, discardLogger(), ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("backend.Run: %v", err)
		}
	})
	s := &stack{t: t, url: "http://" + ln.Addr().String()}

	roles := make([]string, 10_000)
	for i := range roles {
		roles[i] = token.RoleViewer
	}
	tests := []struct {
		name   string
		header http.Header
		status int
		slug   string
	}{
		{"70 KB header", http.Header{"X-Big": {strings.Repeat("a", 70<<10)}}, 431, "request-header-fields-too-large"},
		{"100 KB token", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 100<<10)}}, 431, "request-header-fields-too-large"},
		{"10,000 roles", http.Header{"Authorization": {"Bearer " + mint(t, "", roles...)}}, 431, "request-header-fields-too-large"},
		{"50 KB token under the limit", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 50<<10)}}, 401, "invalid-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.in(t)
			req, err := http.NewRequest("GET", s.url+"/api/v1/agents", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			// The first request waits in the listener's queue while the backend migrates.
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			s.expect(response{status: res.StatusCode, header: res.Header, body: body}, tt.status, tt.slug)
		})
	}
}
