package httpx

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// seenRequest is what an upstream received.
type seenRequest struct {
	Method  string
	Host    string
	Path    string
	RawPath string
	Query   string
	Header  http.Header
	Body    string
}

// newRecordingUpstream starts an upstream that records each request and then
// answers with respond (200 "ok" when nil).
func newRecordingUpstream(t *testing.T, respond http.HandlerFunc) (*httptest.Server, <-chan seenRequest) {
	t.Helper()
	seen := make(chan seenRequest, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen <- seenRequest{
			Method: r.Method, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath,
			Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body),
		}
		if respond != nil {
			respond(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// newProxyFront serves a proxy built from cfg behind Recover and Correlation,
// as a service would, and returns its server and log.
func newProxyFront(t *testing.T, cfg ProxyConfig) (*httptest.Server, *logSink) {
	t.Helper()
	logger, sink := newTestLogger(t)
	cfg.Logger = logger
	proxy, err := NewProxy(cfg)
	if err != nil {
		t.Fatalf("NewProxy: %v", err)
	}
	front := httptest.NewServer(Recover(logger)(Correlation(proxy)))
	t.Cleanup(front.Close)
	return front, sink
}

// do sends req and returns the response with its body read.
func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", req.URL, err)
	}
	return resp, string(body)
}

func newRequest(t *testing.T, method, url string, body io.Reader, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	return req
}

func TestProxyForwardsPathQueryAndHost(t *testing.T) {
	tests := []struct {
		name         string
		upstreamPath string
		wantPath     string
		wantRawPath  string
	}{
		{"no upstream path", "", "/api/v1/agents/a/b", "/api/v1/agents/a%2Fb"},
		{"upstream path prefix", "/base", "/base/api/v1/agents/a/b", "/base/api/v1/agents/a%2Fb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream, seen := newRecordingUpstream(t, nil)
			front, _ := newProxyFront(t, ProxyConfig{Upstream: mustURL(t, upstream.URL+tt.upstreamPath)})

			req := newRequest(t, http.MethodDelete, front.URL+"/api/v1/agents/a%2Fb?q=two%20words&page=2", nil,
				http.Header{"Authorization": {"Bearer abc.def.ghi"}})
			resp, body := do(t, req)
			if resp.StatusCode != http.StatusOK || body != "ok" {
				t.Fatalf("got %d %q, want 200 ok", resp.StatusCode, body)
			}
			got := <-seen
			if got.Method != http.MethodDelete || got.Path != tt.wantPath || got.RawPath != tt.wantRawPath {
				t.Errorf("upstream saw %s path %q raw %q, want DELETE %q raw %q", got.Method, got.Path, got.RawPath, tt.wantPath, tt.wantRawPath)
			}
			if got.Query != "q=two%20words&page=2" {
				t.Errorf("upstream query = %q", got.Query)
			}
			if want := upstream.Listener.Addr().String(); got.Host != want {
				t.Errorf("upstream Host = %q, want its own %q", got.Host, want)
			}
			if a := got.Header.Get("Authorization"); a != "Bearer abc.def.ghi" {
				t.Errorf("Authorization = %q, want it unchanged", a)
			}
		})
	}
}

func TestProxyStripsUntrustedHeaders(t *testing.T) {
	upstream, seen := newRecordingUpstream(t, nil)
	front, _ := newProxyFront(t, ProxyConfig{Upstream: mustURL(t, upstream.URL)})

	forged := http.Header{
		"X-User-Id":         {"admin"},
		"x-user-roles":      {"admin"},
		"X-Customer-Id":     {"other-tenant"},
		"X-Gateway-Type":    {"PP"},
		"X-Forwarded-For":   {"6.6.6.6"},
		"X-Forwarded-Host":  {"evil.example"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=6.6.6.6"},
		"X-Real-Ip":         {"6.6.6.6"},
		HeaderPortalSecret:  {"guessed-portal-secret"},
		"X-Keep-Me":         {"yes"},
	}
	do(t, newRequest(t, http.MethodGet, front.URL+"/x", nil, forged))
	got := <-seen

	for name := range got.Header {
		for _, p := range []string{"X-User-", "X-Customer-", "X-Gateway-", "X-Real-Ip", "Forwarded", HeaderPortalSecret} {
			if strings.HasPrefix(http.CanonicalHeaderKey(name), p) {
				t.Errorf("client's %s reached the upstream: %q", name, got.Header[name])
			}
		}
	}
	want := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Forwarded-Host":  front.Listener.Addr().String(),
		"X-Forwarded-Proto": "http",
		"X-Keep-Me":         "yes",
	}
	for name, v := range want {
		if vs := got.Header.Values(name); len(vs) != 1 || vs[0] != v {
			t.Errorf("upstream %s = %q, want [%q]", name, vs, v)
		}
	}
}

func TestProxyTrustsForwardingHeadersWhenConfigured(t *testing.T) {
	upstream, seen := newRecordingUpstream(t, nil)
	front, _ := newProxyFront(t, ProxyConfig{
		Upstream:                mustURL(t, upstream.URL),
		UntrustedHeaderPrefixes: []string{"X-User-"},
	})
	do(t, newRequest(t, http.MethodGet, front.URL+"/x", nil, http.Header{
		"X-Forwarded-For":   {"10.0.0.1"},
		"X-Forwarded-Host":  {"portal.example"},
		"X-Forwarded-Proto": {"https"},
		"X-User-Id":         {"admin"},
	}))
	got := <-seen
	if v := got.Header.Get("X-Forwarded-For"); v != "10.0.0.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the prior hop with the client appended", v)
	}
	if v := got.Header.Get("X-Forwarded-Host"); v != "portal.example" {
		t.Errorf("X-Forwarded-Host = %q, want the prior hop's", v)
	}
	if v := got.Header.Get("X-Forwarded-Proto"); v != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want the prior hop's", v)
	}
	if v := got.Header.Get("X-User-Id"); v != "" {
		t.Errorf("X-User-Id = %q reached the upstream", v)
	}
}

func TestProxyRewriteSetsHeadersAfterStripping(t *testing.T) {
	upstream, seen := newRecordingUpstream(t, nil)
	front, _ := newProxyFront(t, ProxyConfig{
		Upstream: mustURL(t, upstream.URL),
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.Header.Set("X-User-Id", "user-1")
			pr.Out.Header.Set("X-Gateway-Type", "CP")
		},
	})
	do(t, newRequest(t, http.MethodGet, front.URL+"/x", nil, http.Header{
		"X-User-Id": {"forged"}, "X-Gateway-Type": {"PP"},
	}))
	got := <-seen
	if vs := got.Header.Values("X-User-Id"); len(vs) != 1 || vs[0] != "user-1" {
		t.Errorf("X-User-Id = %q, want [user-1]", vs)
	}
	if vs := got.Header.Values("X-Gateway-Type"); len(vs) != 1 || vs[0] != "CP" {
		t.Errorf("X-Gateway-Type = %q, want [CP]", vs)
	}
}

func TestProxyPropagatesCorrelationAndTrace(t *testing.T) {
	// The upstream echoes the id, as every WAOOAW service does.
	upstream, seen := newRecordingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderCorrelationID, r.Header.Get(HeaderCorrelationID))
	})
	front, _ := newProxyFront(t, ProxyConfig{Upstream: mustURL(t, upstream.URL)})

	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
	)
	resp, _ := do(t, newRequest(t, http.MethodGet, front.URL+"/x", nil, http.Header{
		HeaderCorrelationID: {"corr-123"},
		HeaderTraceparent:   {"00-" + traceID + "-" + parentID + "-01"},
	}))
	got := <-seen

	if v := got.Header.Get(HeaderCorrelationID); v != "corr-123" {
		t.Errorf("upstream correlation id = %q, want corr-123", v)
	}
	if vs := resp.Header.Values(HeaderCorrelationID); len(vs) != 1 || vs[0] != "corr-123" {
		t.Errorf("response correlation ids = %q, want exactly [corr-123]", vs)
	}
	tc, ok := parseTraceparent(got.Header.Get(HeaderTraceparent))
	if !ok {
		t.Fatalf("upstream traceparent %q is not valid", got.Header.Get(HeaderTraceparent))
	}
	if tc.traceID != traceID || tc.parentID == parentID {
		t.Errorf("upstream traceparent = %s, want trace %s with a new parent id", tc, traceID)
	}
}

func TestProxyKeepsRepeatedResponseHeaders(t *testing.T) {
	upstream, _ := newRecordingUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Add("Set-Cookie", "a=1; Path=/")
		w.Header().Add("Set-Cookie", "b=2; Path=/")
	})
	front, _ := newProxyFront(t, ProxyConfig{Upstream: mustURL(t, upstream.URL)})
	resp, _ := do(t, newRequest(t, http.MethodGet, front.URL+"/x", nil, nil))
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 || got[0] != "a=1; Path=/" || got[1] != "b=2; Path=/" {
		t.Errorf("Set-Cookie = %q, want both cookies", got)
	}
}

func TestProxyStreamsResponse(t *testing.T) {
	release := make(chan struct{})
	const first, second = "data: first\n\n", "data: second\n\n"
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// A known length would let a buffering proxy hold the chunk back.
		w.Header().Set("Content-Length", strconv.Itoa(len(first+second)))
		_, _ = io.WriteString(w, first)
		http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, second)
	}))
	t.Cleanup(upstream.Close)
	t.Cleanup(func() { closeOnce(release) })
	front, _ := newProxyFront(t, ProxyConfig{
		Upstream: mustURL(t, upstream.URL),
		// Long past the headers: the clock must have stopped with them.
		ResponseHeaderTimeout: 50 * time.Millisecond,
	})

	resp, err := http.Get(front.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, len(first))
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != first {
		t.Fatalf("first chunk = %q, %v; want %q while the upstream is still writing", buf, err, first)
	}
	time.Sleep(200 * time.Millisecond) // 4× the header timeout, which must not cut the stream
	closeOnce(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != second {
		t.Fatalf("rest = %q, %v; want %q", rest, err, second)
	}
}

func closeOnce(ch chan struct{}) {
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func TestProxyStreamsRequestBody(t *testing.T) {
	gotFirst := make(chan string, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			t.Errorf("upstream read: %v", err)
		}
		gotFirst <- string(buf)
		rest, _ := io.ReadAll(r.Body)
		_, _ = w.Write(append(buf, rest...))
	}))
	t.Cleanup(upstream.Close)
	front, _ := newProxyFront(t, ProxyConfig{Upstream: mustURL(t, upstream.URL)})

	pr, pw := io.Pipe()
	req := newRequest(t, http.MethodPost, front.URL+"/upload", pr, nil)
	type result struct {
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{string(b), err}
	}()

	if _, err := io.WriteString(pw, "hello"); err != nil {
		t.Fatal(err)
	}
	// The client has not finished its body: a buffering proxy would still
	// be waiting for it.
	if got := <-gotFirst; got != "hello" {
		t.Fatalf("upstream got %q first", got)
	}
	_, _ = io.WriteString(pw, ", world")
	pw.Close()
	res := <-done
	if res.err != nil || res.body != "hello, world" {
		t.Fatalf("response = %q, %v; want the whole body echoed", res.body, res.err)
	}
}

func TestProxyRemovesHopByHopHeaders(t *testing.T) {
	upstream, seen := newRecordingUpstream(t, nil)
	front, _ := newProxyFront(t, ProxyConfig{Upstream: mustURL(t, upstream.URL)})

	// A raw request, so that exactly these headers reach the proxy.
	conn, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: portal.example\r\n"+
		"Connection: X-Foo, close\r\nX-Foo: bar\r\nKeep-Alive: timeout=5\r\n"+
		"Proxy-Authorization: Basic c2VjcmV0\r\nX-Keep: yes\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	got := <-seen
	for _, name := range []string{"X-Foo", "Keep-Alive", "Proxy-Authorization"} {
		if v, ok := got.Header[name]; ok {
			t.Errorf("hop-by-hop %s = %q reached the upstream", name, v)
		}
	}
	if c := strings.ToLower(got.Header.Get("Connection")); strings.Contains(c, "x-foo") || strings.Contains(c, "close") {
		t.Errorf("the client's Connection %q reached the upstream", got.Header.Get("Connection"))
	}
	if got.Header.Get("X-Keep") != "yes" || got.Header.Get("X-Forwarded-Host") != "portal.example" {
		t.Errorf("end-to-end headers = %v, want X-Keep and X-Forwarded-Host portal.example", got.Header)
	}
}

func TestProxyReusesUpstreamConnections(t *testing.T) {
	var conns atomic.Int32
	upstream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	upstream.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	upstream.Start()
	t.Cleanup(upstream.Close)
	front, _ := newProxyFront(t, ProxyConfig{Upstream: mustURL(t, upstream.URL)})
	for range 5 {
		do(t, newRequest(t, http.MethodGet, front.URL+"/x", nil, nil))
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections for 5 sequential requests, want 1 kept alive", n)
	}
}

// writeCountingListener counts the writes made on the connections it accepts.
type writeCountingListener struct {
	net.Listener
	writes atomic.Int32
}

func (l *writeCountingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &writeCountingConn{Conn: c, writes: &l.writes}, nil
}

type writeCountingConn struct {
	net.Conn
	writes *atomic.Int32
}

func (c *writeCountingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// A small response of known length goes to the client in one write, headers and body
// together: flushing the headers on their own first costs a write and a read per request.
func TestProxySendsSmallResponseInOneWrite(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"items":[]}`)
	}))
	t.Cleanup(upstream.Close)
	logger, _ := newTestLogger(t)
	proxy, err := NewProxy(ProxyConfig{Upstream: mustURL(t, upstream.URL), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewUnstartedServer(Correlation(proxy))
	counting := &writeCountingListener{Listener: front.Listener}
	front.Listener = counting
	front.Start()
	t.Cleanup(front.Close)

	for i := range 20 {
		counting.writes.Store(0)
		resp, body := do(t, newRequest(t, http.MethodGet, front.URL+"/x", nil, nil))
		if resp.StatusCode != http.StatusOK || body != `{"items":[]}` {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		if n := counting.writes.Load(); n != 1 {
			t.Fatalf("request %d: the response took %d writes, want 1", i, n)
		}
	}
}

// roundTripFunc is a RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A RoundTripper may close the request body after RoundTrip has returned;
// the header clock must not start then, or it would cut the response.
func TestHeaderTimeoutIgnoresBodyClosedAfterHeaders(t *testing.T) {
	var sent *http.Request
	tr := headerTimeoutTransport{
		timeout: 20 * time.Millisecond,
		next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = r
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("streaming")), Request: r}, nil
		}),
	}
	req := newRequest(t, http.MethodPost, "http://upstream.test/x", strings.NewReader("body"), nil)
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sent.Body.Close()                  // late, as the contract allows
	time.Sleep(100 * time.Millisecond) // 5× the timeout
	if err := sent.Context().Err(); err != nil {
		t.Fatalf("the response's context ended (%v, cause %v) after the headers had arrived", err, context.Cause(sent.Context()))
	}
}

func TestProxyUpstreamFailures(t *testing.T) {
	// down: nothing listens any more.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String()
	ln.Close()

	// slow: answers only when the test ends.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })

	// broken: hangs up without an answer.
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(broken.Close)

	tests := []struct {
		name       string
		upstream   string
		method     string
		body       string
		wantStatus int
		wantSlug   string
	}{
		{"down", downURL, http.MethodGet, "", http.StatusBadGateway, SlugBadGateway},
		{"slow", slow.URL, http.MethodGet, "", http.StatusGatewayTimeout, SlugGatewayTimeout},
		{"slow after the body", slow.URL, http.MethodPost, `{"a":1}`, http.StatusGatewayTimeout, SlugGatewayTimeout},
		{"broken", broken.URL, http.MethodGet, "", http.StatusBadGateway, SlugBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			front, sink := newProxyFront(t, ProxyConfig{
				Upstream:              mustURL(t, tt.upstream+"/internal-base"),
				ResponseHeaderTimeout: 100 * time.Millisecond,
			})
			resp, body := do(t, newRequest(t, tt.method, front.URL+"/api/x", strings.NewReader(tt.body),
				http.Header{HeaderCorrelationID: {"corr-fail"}}))

			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != problemContentType {
				t.Errorf("Content-Type = %q", ct)
			}
			p := decodeBody(t, []byte(body))
			if p["type"] != ProblemTypeBase+tt.wantSlug || p["instance"] != "/api/x" || p["correlation_id"] != "corr-fail" {
				t.Errorf("problem = %v", p)
			}
			host := mustURL(t, tt.upstream).Host
			for _, leak := range []string{host, "127.0.0.1", "internal-base", "dial", "tcp", "timeout awaiting", "EOF"} {
				if strings.Contains(body, leak) {
					t.Errorf("problem body leaks %q: %s", leak, body)
				}
			}
			recs := sink.withMsg(t, "upstream request failed")
			if len(recs) != 1 {
				t.Fatalf("got %d failure log lines, want 1:\n%s", len(recs), sink)
			}
			rec := recs[0]
			if rec["correlation_id"] != "corr-fail" || rec["error"] == "" || rec["upstream"] != host || rec["path"] != "/api/x" {
				t.Errorf("failure log line = %v", rec)
			}
		})
	}
}

func TestProxyBodyOverLimitWithoutLength(t *testing.T) {
	upstream, _ := newRecordingUpstream(t, nil)
	logger, _ := newTestLogger(t)
	proxy, err := NewProxy(ProxyConfig{Upstream: mustURL(t, upstream.URL), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(Correlation(LimitBody(1024)(proxy)))
	t.Cleanup(front.Close)

	req := newRequest(t, http.MethodPost, front.URL+"/x", strings.NewReader(strings.Repeat("a", 64<<10)), nil)
	req.ContentLength = -1 // chunked: LimitBody cannot refuse it up front
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413; body %s", resp.StatusCode, body)
	}
	if p := decodeBody(t, []byte(body)); p["type"] != ProblemTypeBase+SlugPayloadTooLarge {
		t.Errorf("problem = %v", p)
	}
}

func TestProxyClientGoneIsNotAnError(t *testing.T) {
	arrived := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	t.Cleanup(upstream.Close)
	logger, sink := newTestLogger(t)
	proxy, err := NewProxy(ProxyConfig{Upstream: mustURL(t, upstream.URL), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan int, 1)
	front := httptest.NewServer(Correlation(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		proxy.ServeHTTP(ww, r)
		written <- ww.Status()
	})))
	t.Cleanup(front.Close)

	ctx, cancel := context.WithCancel(t.Context())
	req := newRequest(t, http.MethodGet, front.URL+"/x", nil, http.Header{HeaderCorrelationID: {"corr-gone"}}).WithContext(ctx)
	clientErr := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()
	<-arrived
	cancel()
	if err := <-clientErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("client error = %v, want context.Canceled", err)
	}
	if status := <-written; status != 0 {
		t.Errorf("proxy wrote status %d to a client that went away, want nothing", status)
	}
	if recs := sink.withMsg(t, "upstream request failed"); len(recs) != 0 {
		t.Errorf("a departed client was logged as an upstream failure: %v", recs)
	}
	recs := sink.withMsg(t, "client went away during upstream request")
	if len(recs) != 1 || recs[0]["level"] != "DEBUG" || recs[0]["correlation_id"] != "corr-gone" {
		t.Errorf("departure log lines = %v, want one at DEBUG with the correlation id", recs)
	}
}

func TestProxyModifyResponseErrorIsBadGateway(t *testing.T) {
	upstream, _ := newRecordingUpstream(t, nil)
	front, _ := newProxyFront(t, ProxyConfig{
		Upstream:       mustURL(t, upstream.URL),
		ModifyResponse: func(*http.Response) error { return errors.New("upstream answer refused at " + upstream.URL) },
	})
	resp, body := do(t, newRequest(t, http.MethodGet, front.URL+"/x", nil, nil))
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, upstream.URL) {
		t.Errorf("got %d %s, want a 502 problem without the error text", resp.StatusCode, body)
	}
}

func TestNewProxyRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  ProxyConfig
	}{
		{"no upstream", ProxyConfig{}},
		{"not http", ProxyConfig{Upstream: &url.URL{Scheme: "ftp", Host: "files:21"}}},
		{"no host", ProxyConfig{Upstream: &url.URL{Scheme: "http", Path: "/api"}}},
		{"negative timeout", ProxyConfig{Upstream: &url.URL{Scheme: "http", Host: "gw:8000"}, ResponseHeaderTimeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := NewProxy(tt.cfg); err == nil {
				t.Errorf("NewProxy = %v, want an error", p)
			}
		})
	}
}

func TestNewTransport(t *testing.T) {
	tr := NewTransport(16)
	if tr.MaxIdleConns != 16 || tr.MaxIdleConnsPerHost != 16 {
		t.Errorf("idle pool = %d/%d per host, want 16/16", tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
	}
	if tr.Proxy != nil {
		t.Error("transport would take a proxy from the environment")
	}
	if tr.IdleConnTimeout != 90*time.Second {
		t.Errorf("IdleConnTimeout = %s", tr.IdleConnTimeout)
	}
	if p := tr.Protocols; p == nil || !p.HTTP1() || p.HTTP2() || p.UnencryptedHTTP2() {
		t.Errorf("protocols = %v, want HTTP/1.1 only", p)
	}
}
