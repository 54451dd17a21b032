package httpx

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// serveOK runs Serve with the default configuration around a handler that answers 200 "ok",
// and returns its base URL and log.
func serveOK(t *testing.T) (string, *logSink) {
	t.Helper()
	logger, sink := newTestLogger(t)
	ln := listenLocal(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}), ServerConfig{}, logger)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), sink
}

// TestServeAnswersOversizedHeadersWithProblem: headers over the 64 KiB limit get a 431 problem,
// not Go's plain text, up to the hard limit; past it Go answers alone, as documented.
func TestServeAnswersOversizedHeadersWithProblem(t *testing.T) {
	base, sink := serveOK(t)
	many := http.Header{}
	for i := range 2000 {
		many.Set(fmt.Sprintf("X-Filler-%d", i), strings.Repeat("v", 30))
	}
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		wantCT     string
	}{
		{"60 KB header passes", http.Header{"X-Big": {strings.Repeat("a", 60<<10)}}, 200, "text/plain; charset=utf-8"},
		{"70 KB header", http.Header{"X-Big": {strings.Repeat("a", 70<<10)}}, 431, problemContentType},
		{"100 KB token", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 100<<10)}}, 431, problemContentType},
		{"2000 headers", many, 431, problemContentType},
		{"900 KB header, under the hard limit", http.Header{"X-Big": {strings.Repeat("a", 900<<10)}}, 431, problemContentType},
		// Documented: beyond the hard limit Go's server answers before any handler runs.
		{"2 MB header, over the hard limit", http.Header{"X-Big": {strings.Repeat("a", 2<<20)}}, 431, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, newRequest(t, http.MethodGet, base+"/api/v1/agents", nil, tt.header))
			if resp.StatusCode != tt.wantStatus || resp.Header.Get("Content-Type") != tt.wantCT {
				t.Fatalf("got %d %q, want %d %q: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), tt.wantStatus, tt.wantCT, body)
			}
			if tt.wantCT != problemContentType {
				return
			}
			p := decodeBody(t, []byte(body))
			if p["type"] != ProblemTypeBase+SlugHeadersTooLarge || p["status"] != float64(431) ||
				p["instance"] != "/api/v1/agents" || p["limit_bytes"] != float64(64<<10) {
				t.Errorf("problem = %v", p)
			}
			if id := resp.Header.Get(HeaderCorrelationID); id == "" || p["correlation_id"] != id {
				t.Errorf("correlation id: header %q, body %v", id, p["correlation_id"])
			}
		})
	}
	if n := len(sink.withMsg(t, "request headers too large")); n != 4 {
		t.Errorf("%d refusals logged, want 4:\n%s", n, sink)
	}
}

// TestLimitHeadersCountsBytesAsSent sends a request of exactly the limit, and one byte more, over
// a raw connection, so that no client adds headers of its own.
func TestLimitHeadersCountsBytesAsSent(t *testing.T) {
	base, _ := serveOK(t)
	addr := strings.TrimPrefix(base, "http://")
	const limit = 64 << 10
	request := func(size int) string {
		head := "GET /x HTTP/1.1\r\nHost: " + addr + "\r\nX-Pad: "
		pad := size - len(head) - len("\r\n\r\n")
		return head + strings.Repeat("p", pad) + "\r\n\r\n"
	}
	for _, tt := range []struct {
		size, want int
	}{{limit, 200}, {limit + 1, 431}} {
		raw := request(tt.size)
		if len(raw) != tt.size {
			t.Fatalf("built %d bytes, want %d", len(raw), tt.size)
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%d bytes of request line and headers: status %d, want %d", tt.size, resp.StatusCode, tt.want)
		}
	}
}

// TestProxyAnswersUpstreamHeaderRefusalWithProblem: an upstream that refuses the forwarded
// headers in Go's plain text gives the client a 431 problem, not that text.
func TestProxyAnswersUpstreamHeaderRefusalWithProblem(t *testing.T) {
	upstream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	upstream.Config.MaxHeaderBytes = 1 << 10
	upstream.Start()
	t.Cleanup(upstream.Close)
	front, _ := newProxyFront(t, ProxyConfig{Upstream: mustURL(t, upstream.URL)})

	resp, body := do(t, newRequest(t, http.MethodGet, front.URL+"/api/x", nil, http.Header{"X-Big": {strings.Repeat("a", 16<<10)}}))
	if resp.StatusCode != 431 || resp.Header.Get("Content-Type") != problemContentType {
		t.Fatalf("got %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if p := decodeBody(t, []byte(body)); p["type"] != ProblemTypeBase+SlugHeadersTooLarge || p["instance"] != "/api/x" {
		t.Errorf("problem = %v", p)
	}
	// An upstream's own 431 problem is relayed untouched.
	upstream2, _ := newRecordingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, NewProblem(SlugHeadersTooLarge, "from upstream"))
	})
	front2, _ := newProxyFront(t, ProxyConfig{Upstream: mustURL(t, upstream2.URL)})
	_, body = do(t, newRequest(t, http.MethodGet, front2.URL+"/api/x", nil, nil))
	if p := decodeBody(t, []byte(body)); p["detail"] != "from upstream" {
		t.Errorf("upstream's problem replaced: %v", p)
	}
}

// TestProblemInstanceIsClientPath: after a rewrite of the path, problems (written here or by the
// proxy for an upstream failure) name the path the client sent.
func TestProblemInstanceIsClientPath(t *testing.T) {
	rewrite := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = WithClientPath(r)
			r.URL.Path = "/api/v1/" + strings.TrimPrefix(r.URL.Path, "/api/")
			next.ServeHTTP(w, r)
		})
	}
	t.Run("written here", func(t *testing.T) {
		rec := httptest.NewRecorder()
		rewrite(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			WriteProblem(w, r, NewProblem(SlugUnauthorized, "no token"))
		})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/agents", nil))
		if p := decodeBody(t, rec.Body.Bytes()); p["instance"] != "/api/agents" {
			t.Errorf("instance = %v, want /api/agents", p["instance"])
		}
	})
	t.Run("unreachable upstream", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		logger, _ := newTestLogger(t)
		proxy, err := NewProxy(ProxyConfig{Upstream: mustURL(t, dead.URL), Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		rewrite(proxy).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/agents", nil))
		if p := decodeBody(t, rec.Body.Bytes()); rec.Code != 502 || p["instance"] != "/api/agents" {
			t.Errorf("%d, instance = %v, want 502 /api/agents", rec.Code, p["instance"])
		}
	})
	t.Run("no rewrite", func(t *testing.T) {
		rec := httptest.NewRecorder()
		WriteProblem(rec, httptest.NewRequest(http.MethodGet, "/api/v1/agents", nil), NotFound("x"))
		if p := decodeBody(t, rec.Body.Bytes()); p["instance"] != "/api/v1/agents" {
			t.Errorf("instance = %v", p["instance"])
		}
	})
}

func TestPortalSecret(t *testing.T) {
	for _, tt := range []struct {
		secret string
		ok     bool
	}{
		{"", true},
		{"0123456789abcdef", true},
		{"short", false},
		{"0123456789abcdef with space", false},
		{"0123456789abcdef\n", false},
		{"0123456789abcdéf", false},
	} {
		if err := CheckPortalSecret(tt.secret); (err == nil) != tt.ok {
			t.Errorf("CheckPortalSecret(%q) = %v, want ok=%v", tt.secret, err, tt.ok)
		} else if err != nil && strings.Contains(err.Error(), tt.secret) {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
	const want = "0123456789abcdef"
	for _, tt := range []struct {
		got, want string
		match     bool
	}{
		{want, want, true},
		{want + "x", want, false},
		{"0123456789abcdeF", want, false},
		{"", want, false},
		{"", "", false}, // no secret configured: nothing matches, not even an empty header
		{want, "", false},
	} {
		if PortalSecretMatches(tt.got, tt.want) != tt.match {
			t.Errorf("PortalSecretMatches(%q, %q) != %v", tt.got, tt.want, tt.match)
		}
	}
}
