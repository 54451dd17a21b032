package validate

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/waooaw/waooaw/internal/token"
)

func securityIDs() []string {
	var ids []string
	for _, c := range securityChecks() {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestSecuritySuiteSelectsOnlyItsChecks(t *testing.T) {
	sec, err := Select(Options{Suite: "security"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range sec {
		got = append(got, c.ID)
	}
	if want := securityIDs(); !slices.Equal(got, want) || len(want) != 15 {
		t.Errorf("--suite security runs %v, want the 15 security checks %v", got, want)
	}
	for _, suite := range []string{"smoke", "full"} {
		checks, _ := Select(Options{Suite: suite})
		for _, c := range checks {
			if c.Security {
				t.Errorf("--suite %s runs the security check %s", suite, c.ID)
			}
		}
	}
	// Every id is unique across the suites: --only and --skip name one check.
	seen := map[string]bool{}
	for _, c := range Checks() {
		if seen[c.ID] {
			t.Errorf("two checks have the id %s", c.ID)
		}
		seen[c.ID] = true
	}
	if only, err := Select(Options{Only: []string{"jwt-alg-none"}}); err != nil || len(only) != 1 {
		t.Errorf("--only jwt-alg-none: %v %v", only, err)
	}
}

func TestSecuritySuiteOnAHardenedStack(t *testing.T) {
	s := newTestStack(t)
	rep, err := Run(context.Background(), s.target, Options{Suite: "security"})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || len(rep.Results) != len(securityChecks()) {
		t.Fatalf("the security suite on the in-process stack:\n%s", describe(rep))
	}
	for _, r := range rep.Results {
		if r.Outcome != Passed || len(r.Evidence) == 0 {
			t.Errorf("%s: %s with %d evidence lines: %s", r.ID, r.Outcome, len(r.Evidence), r.Message)
		}
		if r.ID == "gateway-type-spoof" && !strings.Contains(r.Message, "PP's own as PP") {
			t.Errorf("gateway-type-spoof on a stack whose portals hold the secret: %q, want PP's own audited as PP", r.Message)
		}
		// The checks never write a secret, so the reports' redaction must find nothing in
		// their own words to blank out (it would garble the attack's description).
		for _, e := range append([]string{r.Message}, r.Evidence...) {
			if Redact(e) != e {
				t.Errorf("%s: the report would show %q as %q", r.ID, e, Redact(e))
			}
		}
	}
	// Every format shows every check, and none shows a token or the portal secret.
	for _, format := range Formats() {
		var out bytes.Buffer
		if err := Write(&out, format, rep, false); err != nil {
			t.Fatal(err)
		}
		for _, id := range securityIDs() {
			if !strings.Contains(out.String(), id) {
				t.Errorf("the %s report lacks %s", format, id)
			}
		}
		if jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.`); jwt.MatchString(out.String()) {
			t.Errorf("the %s report shows a token: %s", format, jwt.FindString(out.String()))
		}
		if strings.Contains(out.String(), portalSecret) {
			t.Errorf("the %s report shows the portal secret", format)
		}
	}
}

// TestSecurityEvidenceNamesDoorStatusAndSlug: every request of a check is one line saying
// which door, what attack, the status and the problem slug.
func TestSecurityEvidenceNamesDoorStatusAndSlug(t *testing.T) {
	s := newTestStack(t)
	rep, _ := Run(context.Background(), s.target, Options{Only: []string{"jwt-alg-none"}})
	r := rep.Results[0]
	line := regexp.MustCompile(`^\[(cp|pp|gateway|backend)\] alg "[nNoOeE]{4}": GET /api(/v1)?/agents\?limit=1 → 401 invalid-token$`)
	doors := map[string]bool{}
	for _, e := range r.Evidence {
		m := line.FindStringSubmatch(e)
		if m == nil {
			t.Errorf("evidence line %q is not door, attack, request, status and slug", e)
			continue
		}
		doors[m[1]] = true
	}
	if r.Outcome != Passed || len(r.Evidence) != 16 || len(doors) != 4 {
		t.Errorf("jwt-alg-none: %s, %d lines over doors %v; want passed, 16 lines over 4 doors", r.Outcome, len(r.Evidence), doors)
	}
}

// TestSecurityChecksSayWhyTheySkip: with only a token of the stack (no key), no database and
// no OPA URL, the checks that need them are skipped saying why, and those an attacker could
// run with one token run — key confusion with the public key from the gateway's JWKS.
func TestSecurityChecksSayWhyTheySkip(t *testing.T) {
	s := newTestStack(t)
	tok, err := s.target.mint("ci", []string{token.RoleCustomerAdmin}, customer(demoCustomerA))
	if err != nil {
		t.Fatal(err)
	}
	foreign := *s.target
	foreign.Key, foreign.Token, foreign.DatabaseURL, foreign.OPAURL = nil, tok, "", ""
	rep, _ := Run(context.Background(), &foreign, Options{Suite: "security"})
	want := map[string]Outcome{
		"jwt-alg-none": Passed, "jwt-key-confusion": Passed, "token-in-query": Passed, "token-in-cookie": Passed,
		"auth-header-shape": Passed, "bad-bytes": Passed, "oversized-header": Passed,
		"jwt-expired": Skipped, "jwt-future": Skipped, "mixed-roles": Skipped, "cross-tenant": Skipped,
		"identity-headers": Skipped, "backend-door": Skipped, "policy-writes": Skipped, "gateway-type-spoof": Skipped,
	}
	got := outcomes(rep)
	for id, o := range want {
		if got[id] != o {
			t.Errorf("%s with only --token: %s, want %s\n%s", id, got[id], o, describe(rep))
		}
	}
	for _, r := range rep.Results {
		if r.Outcome == Skipped && !regexp.MustCompile(`--key|--opa-url|--database-url`).MatchString(r.Message) {
			t.Errorf("%s skipped without saying what it needs: %q", r.ID, r.Message)
		}
	}
	var keyConfusion Result
	for _, r := range rep.Results {
		if r.ID == "jwt-key-confusion" {
			keyConfusion = r
		}
	}
	if !slices.ContainsFunc(keyConfusion.Evidence, func(e string) bool { return strings.Contains(e, "jwks.json") }) {
		t.Errorf("jwt-key-confusion without a key did not take the public key from the JWKS: %v", keyConfusion.Evidence)
	}
}

func TestSecuritySuiteWithNoStackIsUnreachable(t *testing.T) {
	dead := "http://" + freeAddr(t)
	rep, _ := Run(context.Background(), &Target{CPURL: dead, PPURL: dead, GatewayURL: dead, BackendURL: dead, OPAURL: dead, Key: stackKey}, Options{Suite: "security"})
	if !rep.Unreachable() || rep.OK() {
		t.Fatalf("nothing listening: unreachable %v, ok %v\n%s", rep.Unreachable(), rep.OK(), describe(rep))
	}
}

// --- a weakened stack: one protection turned off in front of one real service ---

// weaken serves a stand-in for the service at upstream: every request goes on to it after hole
// has had its way with it, unless hole answers it itself (and returns true).
func weaken(t *testing.T, upstream string, hole func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	u := mustURL(t, upstream)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hole(w, r) {
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// bearer is the request's token, however its Authorization header is spaced.
func bearer(r *http.Request) string {
	if f := strings.Fields(r.Header.Get("Authorization")); len(f) >= 2 {
		return f[1]
	}
	return ""
}

// tokenParts decodes a token's header and claims without verifying it.
func tokenParts(raw string) (map[string]any, *token.Claims, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, nil, false
	}
	h, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	p, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	var header map[string]any
	var claims token.Claims
	if err1 != nil || err2 != nil || json.Unmarshal(h, &header) != nil || json.Unmarshal(p, &claims) != nil {
		return nil, nil, false
	}
	return header, &claims, true
}

// accept makes r carry a token the stack accepts in place of raw: the claims of raw, changed,
// signed with the stack's key. It is what a door that let raw through would then do.
func accept(t *testing.T, r *http.Request, raw string, change func(*token.Claims)) {
	_, c, ok := tokenParts(raw)
	if !ok {
		return
	}
	if change != nil {
		change(c)
	}
	signed, err := stackKey.Sign(c)
	if err != nil {
		t.Error(err)
		return
	}
	r.Header.Set("Authorization", "Bearer "+signed)
}

func freshTimes(c *token.Claims) {
	c.IssuedAt, c.NotBefore, c.ExpiresAt = jwtDate(time.Now()), nil, jwtDate(time.Now().Add(10*time.Minute))
}

func TestAWeakenedStackFailsTheMatchingCheck(t *testing.T) {
	s := newTestStack(t)
	baseline, _ := Run(context.Background(), s.target, Options{Suite: "security"})
	before := outcomes(baseline)
	opaWrites := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent) // an OPA that takes any write from anyone
	}))
	t.Cleanup(opaWrites.Close)

	holes := []struct {
		check   string // the check that must fail
		service string // the service stood in for; its door is the one the evidence must blame
		hole    func(w http.ResponseWriter, r *http.Request) bool
		opaURL  string // when set, the OPA URL instead of a stand-in
	}{
		{check: "jwt-alg-none", service: "backend", hole: func(w http.ResponseWriter, r *http.Request) bool {
			if h, _, ok := tokenParts(bearer(r)); ok && strings.EqualFold(fmt.Sprint(h["alg"]), "none") {
				accept(t, r, bearer(r), nil)
			}
			return false
		}},
		{check: "jwt-key-confusion", service: "gateway", hole: func(w http.ResponseWriter, r *http.Request) bool {
			if h, _, ok := tokenParts(bearer(r)); ok && h["alg"] == "HS256" {
				accept(t, r, bearer(r), nil)
			}
			return false
		}},
		{check: "jwt-expired", service: "cp", hole: func(w http.ResponseWriter, r *http.Request) bool {
			if _, c, ok := tokenParts(bearer(r)); ok && c.ExpiresAt != nil && c.ExpiresAt.Before(time.Now()) {
				accept(t, r, bearer(r), freshTimes)
			}
			return false
		}},
		{check: "jwt-future", service: "pp", hole: func(w http.ResponseWriter, r *http.Request) bool {
			if _, c, ok := tokenParts(bearer(r)); ok && (c.IssuedAt != nil && c.IssuedAt.After(time.Now()) || c.NotBefore != nil && c.NotBefore.After(time.Now())) {
				accept(t, r, bearer(r), freshTimes)
			}
			return false
		}},
		{check: "token-in-query", service: "cp", hole: func(w http.ResponseWriter, r *http.Request) bool {
			if tok := r.URL.Query().Get("access_token"); tok != "" && r.Header.Get("Authorization") == "" {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
			return false
		}},
		{check: "token-in-cookie", service: "gateway", hole: func(w http.ResponseWriter, r *http.Request) bool {
			if c, err := r.Cookie("access_token"); err == nil && r.Header.Get("Authorization") == "" {
				r.Header.Set("Authorization", "Bearer "+c.Value)
			}
			return false
		}},
		{check: "auth-header-shape", service: "backend", hole: func(w http.ResponseWriter, r *http.Request) bool {
			if tok := bearer(r); tok != "" {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
			return false
		}},
		{check: "mixed-roles", service: "gateway", hole: func(w http.ResponseWriter, r *http.Request) bool {
			if _, c, ok := tokenParts(bearer(r)); ok && token.CheckRoles(c.Roles) != nil {
				accept(t, r, bearer(r), func(c *token.Claims) {
					c.Roles = slices.DeleteFunc(c.Roles, func(role string) bool { return !token.IsCustomerRole(role) })
				})
			}
			return false
		}},
		{check: "cross-tenant", service: "backend", hole: func(w http.ResponseWriter, r *http.Request) bool {
			// A subscriptions list that forgets the tenant: it serves whichever customer is asked.
			if m := regexp.MustCompile(`^/api/v1/customers/([^/]+)/subscriptions$`).FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
				accept(t, r, bearer(r), func(c *token.Claims) { c.CustomerID = m[1] })
			}
			return false
		}},
		{check: "identity-headers", service: "backend", hole: func(w http.ResponseWriter, r *http.Request) bool {
			if id := r.Header.Get("X-Customer-ID"); id != "" {
				accept(t, r, bearer(r), func(c *token.Claims) { c.CustomerID = id })
			}
			return false
		}},
		{check: "backend-door", service: "backend", hole: func(w http.ResponseWriter, r *http.Request) bool {
			// A backend that leaves authorization to the gateway: anyone may create.
			if r.Method == http.MethodPost && (r.URL.Path == "/api/v1/agents" || r.URL.Path == "/api/v1/customers") {
				accept(t, r, bearer(r), func(c *token.Claims) { c.Roles, c.CustomerID = []string{token.RoleAdmin}, "" })
			}
			return false
		}},
		{check: "policy-writes", service: "opa", opaURL: opaWrites.URL},
		{check: "gateway-type-spoof", service: "gateway", hole: func(w http.ResponseWriter, r *http.Request) bool {
			// A gateway that records the client's word for where the request came from.
			if typ := r.Header.Get("X-Gateway-Type"); typ != "" {
				conn, err := pgx.Connect(r.Context(), s.db)
				if err != nil {
					t.Error(err)
					return false
				}
				defer conn.Close(context.Background())
				if _, err := conn.Exec(r.Context(), `INSERT INTO gateway_audit_logs (occurred_at, correlation_id, method, path, status_code, outcome, gateway_type, total_ms)
					VALUES (now(), $1, $2, $3, 200, 'allowed', $4, 0)`, r.Header.Get("X-Correlation-ID"), r.Method, r.URL.Path, strings.ToUpper(typ)); err != nil {
					t.Error(err)
				}
			}
			return false
		}},
		{check: "bad-bytes", service: "gateway", hole: func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.RawQuery, "%00") {
				http.Error(w, "internal error", http.StatusInternalServerError) // what PostgreSQL's refusal became
				return true
			}
			return false
		}},
		{check: "oversized-header", service: "pp", hole: func(w http.ResponseWriter, r *http.Request) bool {
			for _, vs := range r.Header {
				for _, v := range vs {
					if len(v) > 64<<10 {
						http.Error(w, "431 Request Header Fields Too Large", http.StatusRequestHeaderFieldsTooLarge) // Go's own answer
						return true
					}
				}
			}
			return false
		}},
	}
	if len(holes) != len(securityChecks()) {
		t.Fatalf("%d weakened stacks for %d security checks: each check needs one", len(holes), len(securityChecks()))
	}
	for _, h := range holes {
		t.Run(h.check, func(t *testing.T) {
			if before[h.check] != Passed {
				t.Errorf("on the stack itself %s is %s already: the stack is not hardened, so this proves less", h.check, before[h.check])
			}
			weak := *s.target
			switch h.service {
			case "cp":
				weak.CPURL = weaken(t, s.cp.url(), h.hole)
			case "pp":
				weak.PPURL = weaken(t, s.pp.url(), h.hole)
			case "gateway":
				weak.GatewayURL = weaken(t, s.gateway.url(), h.hole)
			case "backend":
				weak.BackendURL = weaken(t, s.backend.url(), h.hole)
			case "opa":
				weak.OPAURL = h.opaURL
			}
			rep, err := Run(context.Background(), &weak, Options{Suite: "security"})
			if err != nil {
				t.Fatal(err)
			}
			after := outcomes(rep)
			if after[h.check] != Failed {
				t.Fatalf("%s with the %s weakened: %s, want failed\n%s", h.check, h.service, after[h.check], describe(rep))
			}
			for _, r := range rep.Results {
				if r.ID != h.check && r.Outcome != before[r.ID] {
					t.Errorf("%s, which the weakened %s does not concern: %s, was %s\n%s", r.ID, h.service, r.Outcome, before[r.ID], describe(rep))
				}
				if r.ID != h.check {
					continue
				}
				// The failure names the door and shows what came back.
				blamed := slices.ContainsFunc(r.Evidence, func(e string) bool {
					return strings.HasPrefix(e, "["+h.service+"]") && strings.Contains(e, "(want ")
				})
				if h.check == "gateway-type-spoof" { // what gives it away is the audit row
					blamed = strings.Contains(r.Message, `audited as "PP"`)
				}
				if r.Message == "" || !blamed {
					t.Errorf("%s failed without blaming the %s door: %q\n%s", h.check, h.service, r.Message, strings.Join(r.Evidence, "\n"))
				}
			}
		})
	}
}
