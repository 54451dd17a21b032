package backend_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/waooaw/waooaw/internal/pgtest"
	"github.com/waooaw/waooaw/internal/services/backend"
	"github.com/waooaw/waooaw/internal/token"
)

// agentAria is a seeded agent.
const agentAria = "112ce31d-729a-51f6-b47b-08175182b313"

// fuzzBodyLimit is the fuzzed backend's body limit, small so that 413 is in reach.
const fuzzBodyLimit = 64 << 10

// fuzzBackend is one backend on its own database, shared by every input of a fuzz target: a
// fuzz function is called many times a second, so the set-up happens once.
type fuzzBackend struct {
	url    string
	client *http.Client
}

func newFuzzBackend(f *testing.F) *fuzzBackend {
	f.Helper()
	db := pgtest.NewDatabase(f)
	if _, err := backend.Migrate(db); err != nil {
		f.Fatalf("migrate: %v", err)
	}
	pool, err := pgxpool.New(context.Background(), db)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(pool.Close)
	cfg := testConfig(f)
	cfg.BodyLimit = fuzzBodyLimit
	h, err := backend.NewServer(cfg, discardLogger(), pool)
	if err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(h)
	f.Cleanup(srv.Close)
	return &fuzzBackend{url: srv.URL, client: srv.Client()}
}

// fuzzToken mints a token that stays valid for a long fuzzing session.
func fuzzToken(f *testing.F, governor bool, roles ...string) string {
	f.Helper()
	c := token.NewClaims("user-fuzz", "fuzz@example.com", roles, 23*time.Hour, time.Now())
	if governor {
		c.GovernorAgentID = "gov-fuzz"
	}
	raw, err := signingKey.Sign(c)
	if err != nil {
		f.Fatal(err)
	}
	return raw
}

// do sends one request; rawQuery goes on the wire as given.
func (b *fuzzBackend) do(t *testing.T, method, path, rawQuery, tok string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.RawQuery = rawQuery
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s?%.200q: %v", method, path, rawQuery, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, data
}

// fuzzProblem is the part of a problem the fuzz targets check.
type fuzzProblem struct {
	Type       string `json:"type"`
	Status     int    `json:"status"`
	Instance   string `json:"instance"`
	Violations []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"violations"`
}

// parseProblem asserts that an answer is a problem of the slug and returns it.
func parseProblem(t *testing.T, what string, status int, h http.Header, body []byte, slug string) fuzzProblem {
	t.Helper()
	if ct := h.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%d answer with Content-Type %q: %s", status, ct, what)
	}
	var p fuzzProblem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem is not JSON: %v: %s", err, what)
	}
	if p.Status != status || p.Instance == "" || (slug != "" && p.Type != "https://waooaw.com/errors/"+slug) {
		t.Fatalf("problem %+v, want status %d type %s and an instance: %s", p, status, slug, what)
	}
	return p
}

// queryText makes fuzz input sendable as a query string: the bytes a request line cannot
// carry (controls, space, DEL) and '#' are written %XX; everything else, broken escapes, raw
// non-ASCII bytes and ';' included, is sent as is.
func queryText(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '#' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzListQuery sends any query string to the two searchable lists. The answer is a 200 page
// (only when every parameter is valid UTF-8 without control characters and the limit is 1–100,
// and never longer than that limit) or a 422 validation-error problem whose violations each name a parameter of the
// query, or the query as a whole; never a 500, whatever PostgreSQL thinks of the bytes.
func FuzzListQuery(f *testing.F) {
	b := newFuzzBackend(f)
	tok := fuzzToken(f, false, token.RoleAdmin)
	for _, q := range []string{
		"", "q=%00", "q=%ff", "q=%c3", "q=%c3%a9", "industry=%00", "industry=%ff", "industry=marketing",
		"industry=nope", "status=%00", "status=available", "status=retired", "customer_id=%00",
		"customer_id=11111111-1111-4111-8111-111111111111", "customer_id={11111111-1111-4111-8111-111111111111}",
		"limit=-1", "limit=0", "limit=1", "limit=100", "limit=101", "limit=1e2", "limit=%00",
		"offset=99999999999999999999", "offset=9223372036854775807", "offset=-1", "offset=1&offset=2",
		"%00=1", "%ff=1", "q=%", "q=%zz", "q=a;b", "q=\xff", "q=%e2%80%ae", "q=%5C", "q=%25", "q=_", "q='--",
		"q=" + strings.Repeat("a", 101), "q=" + strings.Repeat("%c3%a9", 100), "q=%0a", "q=%7f",
	} {
		f.Add(uint8(0), q)
		f.Add(uint8(1), q)
	}

	f.Fuzz(func(t *testing.T, which uint8, raw string) {
		path := []string{"/api/v1/agents", "/api/v1/trials"}[which%2]
		rawQuery := queryText(raw)
		status, h, body := b.do(t, http.MethodGet, path, rawQuery, tok, nil)
		what := fmt.Sprintf("GET %s?%.300q: %d %.300s", path, rawQuery, status, body)

		params, parseErr := url.ParseQuery(rawQuery)
		switch status {
		case http.StatusOK:
			if parseErr != nil {
				t.Fatalf("a query that is not valid URL encoding (%v) was served: %s", parseErr, what)
			}
			for name, values := range params {
				for _, s := range append([]string{name}, values...) {
					if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
						t.Fatalf("parameter %.80q = %.80q, with bad bytes, was served: %s", name, values, what)
					}
				}
			}
			var page struct {
				Items []json.RawMessage `json:"items"`
				Total *int              `json:"total"`
			}
			if err := json.Unmarshal(body, &page); err != nil || page.Items == nil || page.Total == nil {
				t.Fatalf("200 is not a page (%v): %s", err, what)
			}
			limit := 20
			if s := params.Get("limit"); s != "" {
				limit, _ = strconv.Atoi(s)
			}
			if limit < 1 || limit > 100 {
				t.Fatalf("limit %q, outside 1–100, was served: %s", params.Get("limit"), what)
			}
			if len(page.Items) > limit {
				t.Fatalf("%d items on a page limited to %d: %s", len(page.Items), limit, what)
			}
		case http.StatusUnprocessableEntity:
			p := parseProblem(t, what, status, h, body, "validation-error")
			if len(p.Violations) == 0 {
				t.Fatalf("422 without violations: %s", what)
			}
			for _, v := range p.Violations {
				_, named := params[v.Field]
				if unescaped, err := url.QueryUnescape(v.Field); err == nil && !named {
					_, named = params[unescaped]
				}
				if v.Message == "" || !named && !(v.Field == "query" && parseErr != nil) {
					t.Fatalf("violation %+v names no parameter of the query: %s", v, what)
				}
			}
		default:
			t.Fatalf("status %d, want 200 or 422: %s", status, what)
		}
	})
}

// createdAgent is what FuzzCreateBody reads back.
type createdAgent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// FuzzCreateBody sends any JSON body to POST /api/v1/agents and /api/v1/trials as a governor.
// Only 201, 409, 422, 413 and 404 may come back (never a 500: NUL, invalid UTF-8 and
// oversized texts are the client's mistakes), every refusal a problem of its status. A created
// agent has exactly the name sent (trimmed), reads back the same, holds no control or bidi
// formatting character, and never shares its name, ignoring case, with another agent.
func FuzzCreateBody(f *testing.F) {
	b := newFuzzBackend(f)
	gov := fuzzToken(f, true, token.RoleAdmin)

	// Every agent name there is, folded, to check that uniqueness ignores case. Only ASCII
	// names are compared: which non-ASCII letters fold together is the database's business.
	names := make(map[string]string)
	remember := func(name string) {
		if isASCII(name) {
			names[strings.ToLower(name)] = name
		}
	}
	for offset := 0; ; offset += 100 {
		var page struct {
			Items []createdAgent `json:"items"`
		}
		status, _, body := b.doF(f, fmt.Sprintf("limit=100&offset=%d", offset), gov)
		if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			f.Fatalf("list agents: %d %s", status, body)
		}
		for _, a := range page.Items {
			remember(a.Name)
		}
		if len(page.Items) < 100 {
			break
		}
	}

	agent := func(name string) string {
		data, _ := json.Marshal(map[string]any{"name": name, "industry": "marketing", "specialty": "Fuzzing"})
		return string(data)
	}
	for _, body := range []string{
		agent("Fuzz Agent"),
		agent("FUZZ AGENT"),
		agent("Aria - Content Strategy"),
		agent("ARIA - CONTENT STRATEGY"),
		agent("aria - content strategy "),
		agent("\u202eevil"), agent("a\u202eb"), agent("a\u2066b\u2069"), agent("a\u200fb"), agent("a\u061cb"),
		agent("a\x00b"), agent("a\nb"), agent("a\rb"), agent("a\x7fb"), agent("a\u0085b"), agent("a\u2028b"),
		agent("a\ufeffb"), agent("Zoë – Ünïcode ✓"), agent("  padded  "), agent(" "), agent(""),
		"{\"name\":\"bad \xff utf8\",\"industry\":\"marketing\",\"specialty\":\"x\"}",
		"{\"name\":\"trunc \xc3\",\"industry\":\"marketing\",\"specialty\":\"x\"}",
		"{\"name\":\"surrogate \xed\xa0\x80\",\"industry\":\"marketing\",\"specialty\":\"x\"}",
		`{"name":"lone surrogate \ud800","industry":"marketing","specialty":"x"}`,
		agent(strings.Repeat("n", 101)),
		agent(strings.Repeat("n", 50<<10)), // 422: too long
		agent(strings.Repeat("n", 70<<10)), // 413: over the body limit
		`{"name":"x","industry":"%00","specialty":"x"}`, `{"name":"x","industry":"\u0000","specialty":"x"}`,
		`{"name":"x","industry":"nope","specialty":"x"}`, `{"name":"x","industry":"marketing","specialty":"x","price_monthly":-1}`,
		`{"name":"x","industry":"marketing","specialty":"x","currency":"\u0000SD"}`, `{"name":"x","extra":1}`,
		`{"name":"a","name":"b","industry":"marketing","specialty":"x"}`, `{"NAME":"Case Field","industry":"marketing","specialty":"x"}`,
		``, `null`, `[]`, `{`, `{}{}`, "\xff",
	} {
		f.Add(uint8(0), []byte(body))
	}
	for _, body := range []string{
		`{"agent_id":"` + agentAria + `","customer_id":"` + customerA + `"}`,
		`{"agent_id":"` + agentAria + `","customer_id":"` + customerB + `"}`,
		`{"agent_id":"` + agentAria + `","customer_id":"33333333-3333-4333-8333-333333333333"}`,
		`{"agent_id":"` + agentAria + `","customer_id":"44444444-4444-4444-8444-444444444444"}`,
		`{"agent_id":"00000000-0000-0000-0000-000000000000","customer_id":"` + customerA + `"}`,
		`{"agent_id":"` + agentAria + `"}`, `{"agent_id":"%00","customer_id":"\u0000"}`,
		`{"agent_id":"{` + agentAria + `}","customer_id":"` + customerA + `"}`,
		"{\"agent_id\":\"" + agentAria + "\xff\",\"customer_id\":\"" + customerA + "\"}",
		`{"agent_id":1,"customer_id":true}`, `{}`,
	} {
		f.Add(uint8(1), []byte(body))
	}

	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := []string{"/api/v1/agents", "/api/v1/trials"}[which%2]
		status, h, resp := b.do(t, http.MethodPost, path, "", gov, body)
		what := fmt.Sprintf("POST %s %.300q: %d %.300s", path, body, status, resp)
		slug := map[int]string{
			http.StatusConflict: "conflict", http.StatusUnprocessableEntity: "validation-error",
			http.StatusRequestEntityTooLarge: "payload-too-large", http.StatusNotFound: "not-found",
		}
		switch {
		case status == http.StatusCreated:
		case slug[status] != "":
			parseProblem(t, what, status, h, resp, slug[status])
			if status == http.StatusRequestEntityTooLarge && len(body) <= fuzzBodyLimit {
				t.Fatalf("413 for a body within the limit: %s", what)
			}
			return
		default:
			t.Fatalf("status %d, want 201, 409, 413, 422 or 404: %s", status, what)
		}
		if len(body) > fuzzBodyLimit || !utf8.Valid(body) {
			t.Fatalf("created from a body that is over the limit or not UTF-8: %s", what)
		}
		if which%2 == 1 {
			var sent, got struct {
				AgentID    string `json:"agent_id"`
				CustomerID string `json:"customer_id"`
			}
			if json.Unmarshal(body, &sent) != nil || json.Unmarshal(resp, &got) != nil ||
				!strings.EqualFold(sent.AgentID, got.AgentID) || !strings.EqualFold(sent.CustomerID, got.CustomerID) {
				t.Fatalf("trial created for other ids than sent: %s", what)
			}
			return
		}

		var sent struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(body, &sent); err != nil {
			t.Fatalf("created from a body encoding/json refuses (%v): %s", err, what)
		}
		want := strings.TrimSpace(sent.Name)
		var got createdAgent
		if err := json.Unmarshal(resp, &got); err != nil || got.Name != want || got.ID == "" {
			t.Fatalf("created agent %+v, want the name %.200q: %s", got, want, what)
		}
		if i := strings.IndexFunc(got.Name, isFormattingControl); i >= 0 || !utf8.ValidString(got.Name) ||
			got.Name == "" || utf8.RuneCountInString(got.Name) > 100 {
			t.Fatalf("created agent name %.200q is empty, too long, not UTF-8 or holds control characters: %s", got.Name, what)
		}
		st, _, back := b.do(t, http.MethodGet, "/api/v1/agents/"+got.ID, "", gov, nil)
		var read createdAgent
		if st != http.StatusOK || json.Unmarshal(back, &read) != nil || read.Name != want {
			t.Fatalf("agent %s reads back as %d %.200s, want the name %.200q", got.ID, st, back, want)
		}
		if isASCII(want) {
			if other, dup := names[strings.ToLower(want)]; dup {
				t.Fatalf("agent %.200q created although %.200q exists (names are unique ignoring case): %s", want, other, what)
			}
			remember(want)
		}
	})
}

// doF is do for the fuzz target's set-up: agent listing pages.
func (b *fuzzBackend) doF(f *testing.F, rawQuery, tok string) (int, http.Header, []byte) {
	f.Helper()
	req, err := http.NewRequest(http.MethodGet, b.url+"/api/v1/agents?"+rawQuery, nil)
	if err != nil {
		f.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := b.client.Do(req)
	if err != nil {
		f.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, data
}

// isFormattingControl reports the characters issue 9 wants out of names: controls (C0, DEL,
// C1), the bidi embeddings, overrides, isolates and marks, and the other invisible format
// characters (zero-width, BOM), and line and paragraph separators.
func isFormattingControl(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
