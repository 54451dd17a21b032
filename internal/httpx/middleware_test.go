package httpx

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// newStack is a service's stack as SPEC §4.1 orders it, with routes for the
// tests.
func newStack(t *testing.T) (http.Handler, *Metrics, *logSink) {
	t.Helper()
	logger, sink := newTestLogger(t)
	m := NewMetrics("test")
	r := chi.NewRouter()
	r.Use(Recover(logger), Correlation, AccessLog(logger, m))
	r.NotFound(NotFoundHandler().ServeHTTP)
	r.MethodNotAllowed(MethodNotAllowedHandler().ServeHTTP)
	r.Get("/agents/{id}", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"id": chi.URLParam(r, "id")})
	})
	r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	r.Get("/fail", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, logger, errors.New("db down"))
	})
	r.Method(http.MethodGet, "/metrics", m.Handler())
	return r, m, sink
}

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, string(body)
}

func TestAccessLogAndMetrics(t *testing.T) {
	h, _, sink := newStack(t)
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, body := get(t, srv.URL+"/agents/42?token=abc", http.Header{HeaderCorrelationID: {"corr-77"}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	get(t, srv.URL+"/nowhere", nil)
	get(t, srv.URL+"/fail", nil)

	lines := sink.withMsg(t, "request")
	if len(lines) != 3 {
		t.Fatalf("got %d request lines, want 3:\n%s", len(lines), sink)
	}
	line := lines[0]
	want := map[string]any{
		"level":          "INFO",
		"method":         "GET",
		"path":           "/agents/42",
		"route":          "/agents/{id}",
		"status":         float64(200),
		"bytes":          float64(len(body)),
		"correlation_id": "corr-77",
		"service":        "test",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access line %q = %#v, want %#v", k, line[k], v)
		}
	}
	if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms = %#v, want a non-negative number", line["duration_ms"])
	}
	if remote, _ := line["remote"].(string); !strings.HasPrefix(remote, "127.0.0.1:") {
		t.Errorf("remote = %#v, want the client address", line["remote"])
	}
	if strings.Contains(sink.String(), "token=abc") {
		t.Errorf("query string logged: %s", sink)
	}
	if lines[1]["route"] != routeUnmatched || lines[1]["status"] != float64(404) {
		t.Errorf("unmatched line = %v, want route %q status 404", lines[1], routeUnmatched)
	}
	if lines[2]["level"] != "ERROR" || lines[2]["status"] != float64(500) {
		t.Errorf("5xx line = %v, want level ERROR status 500", lines[2])
	}

	_, metrics := get(t, srv.URL+"/metrics", nil)
	for _, want := range []string{
		`waooaw_http_requests_total{method="GET",route="/agents/{id}",service="test",status="200"} 1`,
		`waooaw_http_requests_total{method="GET",route="unmatched",service="test",status="404"} 1`,
		`waooaw_http_requests_total{method="GET",route="/fail",service="test",status="500"} 1`,
		`waooaw_http_request_duration_seconds_bucket{method="GET",route="/agents/{id}",service="test",status="200",le="0.0005"}`,
		`waooaw_http_request_duration_seconds_count{method="GET",route="/agents/{id}",service="test",status="200"} 1`,
		`waooaw_http_requests_in_flight{service="test"} 1`, // the scrape itself
		`go_goroutines`,
		`process_`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, "/agents/42") || strings.Contains(metrics, "/nowhere") {
		t.Errorf("metrics carry a raw path")
	}
}

func TestAccessLogOutsideRouterStillSeesRoute(t *testing.T) {
	logger, sink := newTestLogger(t)
	m := NewMetrics("test")
	r := chi.NewRouter()
	r.Get("/agents/{id}", func(http.ResponseWriter, *http.Request) {})
	rec := httptest.NewRecorder()
	AccessLog(logger, m)(r).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/agents/9", nil))

	lines := sink.withMsg(t, "request")
	if len(lines) != 1 || lines[0]["route"] != "/agents/{id}" {
		t.Fatalf("request lines = %v, want one with route /agents/{id}", lines)
	}
}

func TestAccessLogBoundsMethodLabel(t *testing.T) {
	logger, _ := newTestLogger(t)
	m := NewMetrics("test")
	h := AccessLog(logger, m)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("BREW", "/", nil))

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if strings.Contains(rec.Body.String(), `method="BREW"`) || !strings.Contains(rec.Body.String(), `method="OTHER"`) {
		t.Errorf("unknown method not folded into OTHER:\n%s", rec.Body)
	}
}

func TestAccessLogPreservesFlusher(t *testing.T) {
	logger, _ := newTestLogger(t)
	release := make(chan struct{})
	h := AccessLog(logger, NewMetrics("test"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); !ok {
			http.Error(w, "writer lost http.Flusher", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "first\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		<-release
		_, _ = io.WriteString(w, "second\n")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first line can only arrive while the handler is blocked if the
	// flush went through the wrapper to the connection.
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	close(release)
	if err != nil || first != "first\n" || resp.StatusCode != http.StatusOK {
		t.Fatalf("first chunk = %q, %v (status %d), want \"first\\n\" before the handler finished", first, err, resp.StatusCode)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Errorf("rest = %q", rest)
	}
}

func TestRecoverAnswersProblem(t *testing.T) {
	h, _, sink := newStack(t)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/boom", nil)
	req.Header.Set(HeaderCorrelationID, "c-panic")
	h.ServeHTTP(rec, req)

	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %d %q, want a 500 problem", rec.Code, rec.Header().Get("Content-Type"))
	}
	body := decodeBody(t, rec.Body.Bytes())
	if body["type"] != ProblemTypeBase+SlugInternal || body["correlation_id"] != "c-panic" {
		t.Errorf("body = %s", rec.Body)
	}
	if strings.Contains(rec.Body.String(), "kaboom") {
		t.Errorf("panic value leaked: %s", rec.Body)
	}
	panics := sink.withMsg(t, "panic")
	if len(panics) != 1 || panics[0]["panic"] != "kaboom" || panics[0]["correlation_id"] != "c-panic" ||
		!strings.Contains(panics[0]["stack"].(string), "goroutine") {
		t.Errorf("panic log = %v, want the value, correlation_id and stack", panics)
	}
	access := sink.withMsg(t, "request")
	if len(access) != 1 || access[0]["status"] != float64(500) {
		t.Errorf("access log of the panicking request = %v, want one line with status 500", access)
	}
}

func TestRecoverRepanics(t *testing.T) {
	logger, _ := newTestLogger(t)
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"ErrAbortHandler", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }},
		{"after the response started", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			panic("late")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			func() {
				defer func() { got = recover() }()
				Recover(logger)(tt.handler).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			}()
			if got != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", got)
			}
		})
	}
}

func TestLimitBody(t *testing.T) {
	const limit = 16
	var handlerErr error
	called := false
	h := LimitBody(limit)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		_, handlerErr = io.ReadAll(r.Body)
	}))

	t.Run("declared length over limit", func(t *testing.T) {
		called = false
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", limit+1))))
		if rec.Code != http.StatusRequestEntityTooLarge || called {
			t.Errorf("status %d, handler called %v; want 413 without calling the handler", rec.Code, called)
		}
		if body := decodeBody(t, rec.Body.Bytes()); body["type"] != ProblemTypeBase+SlugPayloadTooLarge {
			t.Errorf("body = %v", body)
		}
	})
	t.Run("unknown length over limit", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", limit+1)))
		req.ContentLength = -1
		h.ServeHTTP(httptest.NewRecorder(), req)
		if _, ok := errors.AsType[*http.MaxBytesError](handlerErr); !ok {
			t.Errorf("handler read error = %v, want *http.MaxBytesError", handlerErr)
		}
	})
	t.Run("within limit", func(t *testing.T) {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader("small")))
		if handlerErr != nil {
			t.Errorf("handler read error = %v", handlerErr)
		}
	})
}

func TestLimitBodyAndDecodeJSON(t *testing.T) {
	logger, _ := newTestLogger(t)
	h := LimitBody(DefaultBodyLimit)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in agentInput
		if err := DecodeJSON(r, &in); err != nil {
			WriteError(w, r, logger, err)
			return
		}
		WriteJSON(w, http.StatusCreated, in)
	}))
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"name":"`+strings.Repeat("a", 20<<20)+`"}`))
	req.ContentLength = -1 // as with chunked transfer: only reading finds the size
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
	if body := decodeBody(t, rec.Body.Bytes()); body["limit_bytes"] != float64(DefaultBodyLimit) {
		t.Errorf("limit_bytes = %v, want %d", body["limit_bytes"], DefaultBodyLimit)
	}
}
