package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/services/apidoc"
	"github.com/waooaw/waooaw/internal/services/gateway"
	"github.com/waooaw/waooaw/internal/token"
)

// fuzzMethods are the methods FuzzRoutes sends.
var fuzzMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// tokenPlaceholder in a fuzzed Authorization value stands for the valid token.
const tokenPlaceholder = "{token}"

// fuzzHeaderLimit is the gateway's default limit on the request line and headers (httpx
// ServerConfig.MaxHeaderBytes); FuzzRoutes's requests near it may go either way.
const fuzzHeaderLimit = 64 << 10

// FuzzRoutes sends the gateway requests with fuzzed paths (query included), methods,
// Authorization values and X-Gateway-Type headers, in front of a recording upstream, and
// checks what an attacker probing the route table must never get:
//
//   - a 5xx (the gateway, OPA, Redis and the upstream are all healthy here);
//   - an error that is not an RFC 9457 problem with a type and, as instance, the path the
//     client sent (not the /api/v1 rewrite of an /api alias);
//   - the upstream reached by a request whose path (after the /api → /api/v1 alias) and method
//     are not an operation of the route table (apidoc.Routes, parameters non-empty), or whose
//     Authorization is not exactly "Bearer <the valid token>", or reached under another route
//     than the one the gateway authorized, or told a gateway type other than direct;
//   - a known operation, with the valid token, that does not reach the upstream; an /api path
//     without it that is not a 401.
func FuzzRoutes(f *testing.F) {
	up := newRecordingUpstream(f)
	s := newStack(f, func(_ *stack, c *gateway.Config) {
		c.BackendURL = mustURL(up.srv.URL)
		// A portal secret is configured and never sent, so every request is direct.
		c.PortalSecret = "portal-secret-the-fuzzer-never-sends-0123456789"
		// Budgets the fuzzer cannot spend: a known route must always get through.
		c.Limits.AgentDailyMicros, c.Limits.PlatformMonthlyMicros = 1<<50, 1<<50
	})
	// A governor, so that no operation stops at the approval redirect; valid for a day, so a
	// long fuzzing session keeps one token.
	tok := mint(f, []string{token.RoleAdmin}, func(c *token.Claims) {
		c.GovernorAgentID = "gov-fuzz"
		c.ExpiresAt = jwt.NewNumericDate(c.IssuedAt.Add(23 * time.Hour))
	})
	routes, err := apidoc.Routes()
	if err != nil {
		f.Fatal(err)
	}
	var api []apidoc.Route
	for _, r := range routes {
		if r.Permission != "" && strings.HasPrefix(r.Path, "/api/") {
			api = append(api, r)
		}
	}
	client := &rawClient{addr: strings.TrimPrefix(s.url, "http://")}
	f.Cleanup(client.close)
	var seq atomic.Int64

	const bearer = "Bearer " + tokenPlaceholder
	for _, seed := range []struct {
		method      uint8
		target      string
		authz, gwty string
	}{
		{0, "/api/agents", bearer, ""},
		{0, "/api/agents", "", ""}, // 401: instance is /api/agents, not the rewrite
		{0, "/api/v1/agents", bearer, ""},
		{1, "/api/v1/agents", bearer, ""}, // HEAD on a GET route
		{1, "/api/agents/112ce31d-729a-51f6-b47b-08175182b313", bearer, ""},
		{0, "/api/v1/agents/%00", bearer, ""},
		{0, "/api/v1/agents/%ff", bearer, ""},
		{0, "/api/%ff", bearer, ""},
		{0, "/api/%00", "", ""},
		{0, "/api/\xff\xfe", bearer, ""},
		{0, "/api/v1/agents?q=%00", bearer, ""},
		{0, "/api/v1/agents?q=%ff&industry=%00", bearer, ""},
		{0, "/api/v1/agents?q=%c3", bearer, ""},
		{0, "/api/v1/../v1/agents", bearer, ""},
		{0, "/api/v1/agents/../customers", bearer, ""},
		{0, "//api/v1/agents", bearer, ""},
		{0, "/api/v1/agents/", bearer, ""},
		{0, "/API/v1/agents", bearer, ""},
		{0, "/api/V1/agents", bearer, ""},
		{0, "/api/v1/agents;x", bearer, ""},
		{0, "/api/v1/agents%2F112ce31d-729a-51f6-b47b-08175182b313", bearer, ""},
		{0, "/ap%69/v1/agents", bearer, ""},
		{0, "/api/v1/agents/a%2Fb", bearer, ""},
		{5, "/api/v1/customers/x/subscriptions/", bearer, ""},
		{5, "/api/v1/customers//subscriptions/y", bearer, ""},
		{5, "/api/v1/customers/11111111-1111-4111-8111-111111111111/subscriptions/a", bearer, ""},
		{4, "/api/trials/x", bearer, ""},
		{2, "/api/v1/agents", bearer, ""},
		{3, "/api/v1/agents", bearer, ""}, // PUT: 405
		{6, "/api/v1/agents", bearer, ""},
		{0, "/api", bearer, ""},
		{0, "/api/", bearer, ""},
		{0, "/api/v1", bearer, ""},
		{0, "/api/v1/", bearer, ""},
		{0, "/health", "", ""},
		{0, "/openapi.json", "", ""},
		{0, "/nope", "", ""},
		{0, "/api/v1/agents", "Bearer  " + tokenPlaceholder, ""},            // two spaces
		{0, "/api/v1/agents", "Bearer\t" + tokenPlaceholder, ""},            // a tab
		{0, "/api/v1/agents", bearer + " ", ""},                             // trailing space: HTTP whitespace, not the value
		{0, "/api/v1/agents", "bearer " + tokenPlaceholder, ""},             // the scheme is case-insensitive
		{0, "/api/v1/agents", "BEARER " + tokenPlaceholder, ""},             //
		{0, "/api/v1/agents", "Basic " + tokenPlaceholder, ""},              //
		{0, "/api/v1/agents", "Bearer", ""},                                 //
		{0, "/api/v1/agents", bearer + "x", ""},                             // another token
		{0, "/api/v1/agents", "Bearer " + strings.Repeat("A", 100<<10), ""}, // a 100 KB token: 431
		{0, "/api/v1/agents", bearer, "PP"},                                 // only a portal may say so
		{0, "/api/v1/agents", bearer, "CP"},                                 //
		{0, "/api/v1/agents", bearer, strings.Repeat("x", 70<<10)},          // a 70 KB header: 431
		{0, "/api/v1/agents/" + strings.Repeat("a", 70<<10), bearer, ""},
		{0, "/" + strings.Repeat("api/", 2000), bearer, ""},
	} {
		f.Add(seed.method, seed.target, seed.authz, seed.gwty)
	}

	f.Fuzz(func(t *testing.T, methodIndex uint8, rawTarget, rawAuthz, rawGatewayType string) {
		method := fuzzMethods[int(methodIndex)%len(fuzzMethods)]
		target := requestTarget(rawTarget)
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("the test made an invalid request target %q: %v", target, err)
		}
		authz := strings.Trim(headerValue(strings.ReplaceAll(rawAuthz, tokenPlaceholder, tok)), " \t")
		gatewayType := strings.Trim(headerValue(rawGatewayType), " \t")
		id := fmt.Sprintf("fuzz-%d", seq.Add(1))
		headers := [][2]string{{"X-Correlation-ID", id}}
		if authz != "" {
			headers = append(headers, [2]string{"Authorization", authz})
		}
		if gatewayType != "" {
			headers = append(headers, [2]string{"X-Gateway-Type", gatewayType})
		}

		res, body, size := client.do(t, method, target, headers)
		seen := up.take(id)

		// What the route table and the token say should happen.
		routePath := aliasedRoutePath(u)
		route, known := matchRoute(api, method, routePath)
		scheme, rest, _ := strings.Cut(authz, " ")
		authOK := strings.EqualFold(scheme, "bearer") && rest == tok
		small, large := size < fuzzHeaderLimit-512, size > fuzzHeaderLimit+512
		underAPI := routePath == "/api" || strings.HasPrefix(routePath, "/api/")
		what := fmt.Sprintf("%s %.300q (route path %.300q, authorization ok %v, %d header bytes): %d %.300s",
			method, target, routePath, authOK, size, res.StatusCode, body)

		if res.StatusCode >= 500 {
			t.Fatalf("server error for %s", what)
		}
		if res.StatusCode >= 400 {
			checkProblem(t, what, method, u, res, body)
		}
		if large && res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("oversized request not refused with 431: %s", what)
		}
		if res.StatusCode == http.StatusRequestHeaderFieldsTooLarge && small {
			t.Fatalf("431 for a request under the limit: %s", what)
		}
		switch {
		case seen != nil && !known:
			t.Fatalf("the upstream got %s %.300q, which the route table does not know: %s", seen.Method, seen.URL.RequestURI(), what)
		case seen != nil && !authOK:
			t.Fatalf("the upstream got a request whose Authorization was not exactly the valid bearer token: %s", what)
		case seen == nil && known && authOK && small:
			t.Fatalf("a known operation with a valid token did not reach the upstream: %s", what)
		case !authOK && underAPI && small && res.StatusCode != http.StatusUnauthorized:
			t.Fatalf("an /api request without a valid token was not refused with 401: %s", what)
		}
		if seen == nil {
			return
		}
		if upRoute, ok := matchRoute(api, seen.Method, requestRoutePath(seen.URL)); !ok || upRoute.Path != route.Path || upRoute.Method != route.Method {
			t.Fatalf("authorized as %s %s but the upstream routes %s %.300q as %s %s", route.Method, route.Path,
				seen.Method, seen.URL.RequestURI(), upRoute.Method, upRoute.Path)
		}
		if got := seen.Header.Get("X-Gateway-Type"); got != "direct" {
			t.Fatalf("upstream told gateway type %q for a client's own X-Gateway-Type %q", got, gatewayType)
		}
		if got := seen.Header.Get("X-User-ID"); got != "user-admin" {
			t.Fatalf("upstream told user %q", got)
		}
		if seen.Header.Get(httpx.HeaderPortalSecret) != "" {
			t.Fatal("the portal secret header reached the upstream")
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("the upstream's 200 came back as %s", what)
		}
	})
}

// checkProblem asserts that an error answer is an RFC 9457 problem naming the path the client
// sent.
func checkProblem(t *testing.T, what, method string, u *url.URL, res *http.Response, body []byte) {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("error answer with Content-Type %q: %s", ct, what)
	}
	if method == http.MethodHead {
		return // no body to read
	}
	var p struct {
		Type     *string `json:"type"`
		Instance *string `json:"instance"`
		Status   int     `json:"status"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem is not JSON (%v): %s", err, what)
	}
	if p.Type == nil || !strings.HasPrefix(*p.Type, httpx.ProblemTypeBase) || len(*p.Type) == len(httpx.ProblemTypeBase) {
		t.Fatalf("problem without a type: %s", what)
	}
	if p.Status != res.StatusCode {
		t.Fatalf("problem status %d differs from the answer's: %s", p.Status, what)
	}
	// The instance is the path the client sent, as sent (invalid UTF-8 can only travel in JSON
	// as U+FFFD), or its escaped form.
	if p.Instance == nil {
		t.Fatalf("problem without an instance: %s", what)
	}
	if *p.Instance != jsonText(u.Path) && *p.Instance != u.EscapedPath() {
		t.Fatalf("problem instance %.300q, want the client's path %.300q: %s", *p.Instance, u.Path, what)
	}
}

// jsonText is s as a JSON string can carry it: invalid bytes become U+FFFD.
func jsonText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// requestTarget turns fuzz input into a request target Go's server accepts, so that every
// input reaches the gateway's handler: a leading slash, and the bytes a request line may not
// carry (controls, space, DEL) and a '%' that starts no escape written %XX. Everything else
// (valid escapes such as %00 and %ff, raw non-ASCII bytes, '?', ';', '#', dot segments) is
// sent as is.
func requestTarget(s string) string {
	const hex = "0123456789ABCDEF"
	isHex := func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
	var b strings.Builder
	if !strings.HasPrefix(s, "/") {
		b.WriteByte('/')
	}
	query := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c == 0x7f,
			c == '%' && !query && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])):
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			query = query || c == '?'
			b.WriteByte(c)
		}
	}
	return b.String()
}

// headerValue drops the bytes a header field value may not hold (controls other than tab).
func headerValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// aliasedRoutePath is the path the gateway's router matches for a request to u: /api/… paths
// outside /api/v1 are served as /api/v1/… (the decoded path, rewritten), and otherwise the
// router works on the path as sent (chi uses the raw path when it differs from the decoded one).
func aliasedRoutePath(u *url.URL) string {
	if p := u.Path; strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/api/v1/") && p != "/api/v1" {
		return "/api/v1/" + strings.TrimPrefix(p, "/api/")
	}
	return requestRoutePath(u)
}

// requestRoutePath is the path a chi router matches for a request to u.
func requestRoutePath(u *url.URL) string {
	if u.RawPath != "" {
		return u.RawPath
	}
	return u.Path
}

// matchRoute finds the operation of the route table for method and path: segment by segment,
// a {parameter} matching any one non-empty segment (OpenAPI path parameters are required), and
// HEAD answered by a GET operation.
func matchRoute(routes []apidoc.Route, method, path string) (apidoc.Route, bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	segs := strings.Split(path, "/")
	for _, r := range routes {
		if r.Method != method {
			continue
		}
		want := strings.Split(r.Path, "/")
		if len(want) != len(segs) {
			continue
		}
		ok := true
		for i, w := range want {
			if strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}") {
				ok = segs[i] != ""
			} else {
				ok = segs[i] == w
			}
			if !ok {
				break
			}
		}
		if ok {
			return r, true
		}
	}
	return apidoc.Route{}, false
}

// recordingUpstream stands where the backend would be and keeps each request it gets under
// its X-Correlation-ID, which the gateway forwards, so a fuzz input can ask whether it got
// through.
type recordingUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string]*http.Request
}

func newRecordingUpstream(t testing.TB) *recordingUpstream {
	u := &recordingUpstream{seen: make(map[string]*http.Request)}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The gateway's /health probes the backend's with the caller's correlation id.
		if id := r.Header.Get(httpx.HeaderCorrelationID); id != "" && r.URL.Path != "/health" {
			u.mu.Lock()
			u.seen[id] = r.Clone(r.Context())
			u.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"upstream":true}`)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// take returns and forgets the request recorded under id, or nil.
func (u *recordingUpstream) take(id string) *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.seen[id]
	delete(u.seen, id)
	return r
}

// rawClient writes requests byte for byte on a kept-alive connection: net/http's client would
// clean up or refuse the very targets the fuzzer is after.
type rawClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

// do sends one request and returns the answer, its body, and the request's size.
func (c *rawClient) do(t *testing.T, method, target string, headers [][2]string) (*http.Response, []byte, int) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: gateway.test\r\n", method, target)
	for _, h := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	raw := b.String()
	size := len(raw) // what LimitHeaders counts: the request line, every header line and the empty line
	for attempt := 0; ; attempt++ {
		res, body, err := c.roundTrip(method, raw)
		if err == nil {
			return res, body, size
		}
		c.close()
		// A kept-alive connection the server closed in between is retried once on a new one.
		if attempt > 0 {
			t.Fatalf("%s %.200q: %v", method, target, err)
		}
	}
}

func (c *rawClient) roundTrip(method, raw string) (*http.Response, []byte, error) {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return nil, nil, err
		}
		c.conn, c.br = conn, bufio.NewReader(conn)
	}
	if _, err := io.WriteString(c.conn, raw); err != nil {
		return nil, nil, err
	}
	res, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	if res.Close {
		c.close()
	}
	return res, body, nil
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}
