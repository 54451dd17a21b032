package portal_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/services/portal"
)

// gatewayRequest is what the stand-in gateway received.
type gatewayRequest struct {
	Method string
	Path   string
	Query  string
	Header http.Header
}

// unauthorizedBody is a problem exactly as the gateway writes one.
const unauthorizedBody = `{"type":"https://waooaw.com/errors/unauthorized","title":"Unauthorized","status":401,` +
	`"detail":"A bearer token is required.","instance":"/api/v1/secret","correlation_id":"from-gateway"}` + "\n"

// newGateway starts a stand-in Plant Gateway that records every request it receives. It answers
// /healthz, a 401 problem on /api/v1/secret, and an echo of the request elsewhere. Like the real
// gateway it echoes the correlation id and answers CORS for any origin, which the portal must not
// pass on.
func newGateway(t *testing.T) (*httptest.Server, <-chan gatewayRequest) {
	t.Helper()
	seen := make(chan gatewayRequest, 64)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		seen <- gatewayRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone()}
		w.Header().Set(httpx.HeaderCorrelationID, r.Header.Get(httpx.HeaderCorrelationID))
		w.Header().Set("Access-Control-Allow-Origin", "*")
		switch r.URL.Path {
		case "/healthz":
			httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "alive"})
		case "/api/v1/secret":
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("WWW-Authenticate", `Bearer realm="waooaw"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, unauthorizedBody)
		default:
			httpx.WriteJSON(w, http.StatusOK, map[string]any{"method": r.Method, "path": r.URL.Path, "bytes": n})
		}
	}))
	t.Cleanup(gw.Close)
	return gw, seen
}

// closedURL is the URL of a port nothing listens on any more.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

type option func(*portal.Config)

// newPortal serves the portal called name in front of gatewayURL.
func newPortal(t *testing.T, name, gatewayURL string, opts ...option) *httptest.Server {
	t.Helper()
	cfg, err := portal.ConfigFromEnv(name, func(k string) string {
		if k == "PLANT_GATEWAY_URL" {
			return gatewayURL
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Version = "1.2.3-test"
	for _, o := range opts {
		o(&cfg)
	}
	logger, err := httpx.NewLogger(t.Output(), "debug", cfg.Service())
	if err != nil {
		t.Fatal(err)
	}
	h, err := portal.NewServer(cfg, logger)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func send(t *testing.T, method, url string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, b
}

func jsonObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, b)
	}
	return m
}

// noGatewayRequest fails when the stand-in received anything. The portal's answer has already
// arrived, so a request it proxied would already be recorded.
func noGatewayRequest(t *testing.T, seen <-chan gatewayRequest) {
	t.Helper()
	select {
	case r := <-seen:
		t.Errorf("the gateway received %s %s", r.Method, r.Path)
	default:
	}
}

func TestConfigFromEnv(t *testing.T) {
	const gw = "http://localhost:8090"
	tests := []struct {
		name        string
		portal      string
		env         map[string]string
		wantAddr    string
		wantService string
		wantType    string
		wantOrigins []string
		wantErr     string // a part of the error, "" for none
	}{
		{"cp defaults", "cp", map[string]string{"PLANT_GATEWAY_URL": gw}, ":8015", "cp-proxy", "CP", nil, ""},
		{"pp defaults", "pp", map[string]string{"PLANT_GATEWAY_URL": gw}, ":8006", "pp-proxy", "PP", nil, ""},
		{"overrides", "cp", map[string]string{
			"PLANT_GATEWAY_URL": gw, "ADDR": "127.0.0.1:9015", "CORS_ORIGINS": "http://localhost:3000, https://app.waooaw.com",
		}, "127.0.0.1:9015", "cp-proxy", "CP", []string{"http://localhost:3000", "https://app.waooaw.com"}, ""},
		{"missing gateway", "cp", nil, "", "", "", nil, "PLANT_GATEWAY_URL"},
		{"gateway without scheme", "pp", map[string]string{"PLANT_GATEWAY_URL": "gateway:8000"}, "", "", "", nil, "PLANT_GATEWAY_URL"},
		{"gateway not http", "pp", map[string]string{"PLANT_GATEWAY_URL": "ftp://gateway:8000"}, "", "", "", nil, "PLANT_GATEWAY_URL"},
		{"gateway without host", "pp", map[string]string{"PLANT_GATEWAY_URL": "http:///api"}, "", "", "", nil, "PLANT_GATEWAY_URL"},
		{"gateway unparsable", "pp", map[string]string{"PLANT_GATEWAY_URL": "http://gate way:80\x7f"}, "", "", "", nil, "PLANT_GATEWAY_URL"},
		{"bad CORS origin", "cp", map[string]string{"PLANT_GATEWAY_URL": gw, "CORS_ORIGINS": "http://localhost:3000/app"}, "", "", "", nil, "CORS_ORIGINS"},
		{"unknown portal", "xp", map[string]string{"PLANT_GATEWAY_URL": gw}, "", "", "", nil, "cp, pp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := portal.ConfigFromEnv(tt.portal, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Addr != tt.wantAddr || cfg.Service() != tt.wantService || cfg.GatewayType() != tt.wantType {
				t.Errorf("addr %q service %q type %q, want %q %q %q", cfg.Addr, cfg.Service(), cfg.GatewayType(),
					tt.wantAddr, tt.wantService, tt.wantType)
			}
			if cfg.GatewayURL == nil || cfg.GatewayURL.String() != gw {
				t.Errorf("GatewayURL = %v, want %s", cfg.GatewayURL, gw)
			}
			if !slices.Equal(cfg.CORSOrigins, tt.wantOrigins) {
				t.Errorf("CORSOrigins = %q, want %q", cfg.CORSOrigins, tt.wantOrigins)
			}
			if cfg.Version == "" {
				t.Error("Version is empty; want the build version")
			}
		})
	}
}

func TestHealth(t *testing.T) {
	gw, seen := newGateway(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)

	tests := []struct {
		name       string
		gateway    string
		wantStatus int
		wantBody   map[string]any
	}{
		{"gateway answers", gw.URL, http.StatusOK,
			map[string]any{"status": "healthy", "service": "cp-proxy", "version": "1.2.3-test", "gateway": "reachable"}},
		{"gateway answers with an error", failing.URL, http.StatusOK,
			map[string]any{"status": "healthy", "service": "cp-proxy", "version": "1.2.3-test", "gateway": "reachable"}},
		{"gateway down", closedURL(t), http.StatusServiceUnavailable,
			map[string]any{"status": "unhealthy", "service": "cp-proxy", "version": "1.2.3-test", "gateway": "unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPortal(t, "cp", tt.gateway)
			resp, body := send(t, http.MethodGet, p.URL+"/health", nil, nil)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			got := jsonObject(t, body)
			if len(got) != len(tt.wantBody) {
				t.Errorf("body = %v, want exactly %v", got, tt.wantBody)
			}
			for k, v := range tt.wantBody {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
	if r := <-seen; r.Method != http.MethodGet || r.Path != "/healthz" {
		t.Errorf("health asked the gateway %s %s, want GET /healthz", r.Method, r.Path)
	}
}

func TestOwnEndpoints(t *testing.T) {
	gw, seen := newGateway(t)
	p := newPortal(t, "pp", gw.URL)

	resp, body := send(t, http.MethodGet, p.URL+"/api", nil, nil)
	info := jsonObject(t, body)
	if resp.StatusCode != http.StatusOK || info["service"] != "pp-proxy" || info["version"] != "1.2.3-test" || info["gateway"] != gw.URL {
		t.Errorf("GET /api = %d %v", resp.StatusCode, info)
	}
	if resp, body := send(t, http.MethodGet, p.URL+"/healthz", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d %s", resp.StatusCode, body)
	}
	resp, body = send(t, http.MethodGet, p.URL+"/nowhere", nil, nil)
	if resp.StatusCode != http.StatusNotFound || jsonObject(t, body)["type"] != httpx.ProblemTypeBase+httpx.SlugNotFound {
		t.Errorf("GET /nowhere = %d %s, want a 404 problem", resp.StatusCode, body)
	}
	noGatewayRequest(t, seen)

	send(t, http.MethodGet, p.URL+"/api/v1/agents", nil, nil)
	_, body = send(t, http.MethodGet, p.URL+"/metrics", nil, nil)
	if want := `waooaw_http_requests_total{method="GET",route="/api/*",service="pp-proxy",status="200"} 1`; !strings.Contains(string(body), want) {
		t.Errorf("metrics lack %s", want)
	}
}

func TestProxiesToGateway(t *testing.T) {
	for _, tt := range []struct{ portal, forged, want string }{{"cp", "PP", "CP"}, {"pp", "CP", "PP"}} {
		t.Run(tt.portal, func(t *testing.T) {
			gw, seen := newGateway(t)
			p := newPortal(t, tt.portal, gw.URL)

			resp, body := send(t, http.MethodPost, p.URL+"/api/v1/agents?industry=marketing&limit=5", strings.NewReader(`{"name":"a"}`),
				http.Header{
					"Authorization":           {"Bearer eyJ.payload.sig"},
					"X-Gateway-Type":          {tt.forged},
					"X-User-Id":               {"forged"},
					httpx.HeaderCorrelationID: {"corr-portal-1"},
				})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, body %s", resp.StatusCode, body)
			}
			got := <-seen
			if got.Method != http.MethodPost || got.Path != "/api/v1/agents" || got.Query != "industry=marketing&limit=5" {
				t.Errorf("gateway got %s %s?%s", got.Method, got.Path, got.Query)
			}
			if vs := got.Header.Values("X-Gateway-Type"); len(vs) != 1 || vs[0] != tt.want {
				t.Errorf("X-Gateway-Type = %q, want [%s]", vs, tt.want)
			}
			if v := got.Header.Get("X-User-Id"); v != "" {
				t.Errorf("forged X-User-Id %q reached the gateway", v)
			}
			if v := got.Header.Get("Authorization"); v != "Bearer eyJ.payload.sig" {
				t.Errorf("Authorization = %q, want it unchanged", v)
			}
			if v := got.Header.Get(httpx.HeaderCorrelationID); v != "corr-portal-1" {
				t.Errorf("gateway saw correlation id %q", v)
			}
			if v := got.Header.Get("X-Forwarded-For"); v != "127.0.0.1" {
				t.Errorf("X-Forwarded-For = %q, want the client", v)
			}
			if vs := resp.Header.Values(httpx.HeaderCorrelationID); len(vs) != 1 || vs[0] != "corr-portal-1" {
				t.Errorf("response correlation ids = %q, want [corr-portal-1]", vs)
			}
			if m := jsonObject(t, body); m["bytes"] != float64(len(`{"name":"a"}`)) {
				t.Errorf("gateway got %v bytes of body", m["bytes"])
			}
		})
	}
}

func TestGatewayProblemPassesThrough(t *testing.T) {
	gw, _ := newGateway(t)
	p := newPortal(t, "cp", gw.URL)
	resp, body := send(t, http.MethodGet, p.URL+"/api/v1/secret", nil, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if string(body) != unauthorizedBody {
		t.Errorf("body = %s\nwant the gateway's unchanged: %s", body, unauthorizedBody)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if v := resp.Header.Get("WWW-Authenticate"); v != `Bearer realm="waooaw"` {
		t.Errorf("WWW-Authenticate = %q", v)
	}
}

func TestGatewayDown(t *testing.T) {
	down := closedURL(t)
	p := newPortal(t, "pp", down)
	resp, body := send(t, http.MethodGet, p.URL+"/api/v1/agents", nil, http.Header{httpx.HeaderCorrelationID: {"corr-down"}})
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502; body %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	prob := jsonObject(t, body)
	if prob["type"] != httpx.ProblemTypeBase+httpx.SlugBadGateway || prob["instance"] != "/api/v1/agents" || prob["correlation_id"] != "corr-down" {
		t.Errorf("problem = %v", prob)
	}
	if host := strings.TrimPrefix(down, "http://"); strings.Contains(string(body), host) {
		t.Errorf("problem names the gateway's address %s: %s", host, body)
	}
}

func TestCORS(t *testing.T) {
	const origin = "http://localhost:3000"
	gw, seen := newGateway(t)
	p := newPortal(t, "cp", gw.URL, func(c *portal.Config) { c.CORSOrigins = []string{origin} })

	resp, _ := send(t, http.MethodOptions, p.URL+"/api/agents", nil, http.Header{
		"Origin":                         {origin},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"authorization, content-type"},
	})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight = %d %v, want 204 allowing %s", resp.StatusCode, resp.Header, origin)
	}
	noGatewayRequest(t, seen)

	// The gateway answers CORS too; the browser must see the portal's answer only.
	resp, _ = send(t, http.MethodGet, p.URL+"/api/v1/agents", nil, http.Header{"Origin": {origin}})
	<-seen
	if vs := resp.Header.Values("Access-Control-Allow-Origin"); len(vs) != 1 || vs[0] != origin {
		t.Errorf("Access-Control-Allow-Origin = %q, want [%s]", vs, origin)
	}
}

func TestBodyLimit(t *testing.T) {
	gw, seen := newGateway(t)
	p := newPortal(t, "cp", gw.URL)
	big := strings.Repeat("x", 20<<20)

	resp, body := send(t, http.MethodPost, p.URL+"/api/v1/agents", strings.NewReader(big), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || jsonObject(t, body)["type"] != httpx.ProblemTypeBase+httpx.SlugPayloadTooLarge {
		t.Errorf("20 MiB body = %d %s, want a 413 problem", resp.StatusCode, body)
	}
	noGatewayRequest(t, seen)

	// Without a Content-Length the body is cut off on its way through.
	req, err := http.NewRequest(http.MethodPost, p.URL+"/api/v1/agents", io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("20 MiB chunked body = %d, want 413", res.StatusCode)
	}
}

func TestRun(t *testing.T) {
	gw, _ := newGateway(t)
	cfg, err := portal.ConfigFromEnv("cp", func(k string) string {
		return map[string]string{"PLANT_GATEWAY_URL": gw.URL}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	logger, err := httpx.NewLogger(t.Output(), "info", cfg.Service())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- portal.Run(ctx, cfg, logger, ln) }()

	resp, body := send(t, http.MethodGet, (&url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/health"}).String(), nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /health = %d %s", resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil after a clean shutdown", err)
	}
}

func TestNewServerRejectsBadConfig(t *testing.T) {
	gw, _ := url.Parse("http://localhost:8090")
	for _, cfg := range []portal.Config{{Name: "xp", GatewayURL: gw}, {Name: "cp"}} {
		if _, err := portal.NewServer(cfg, nil); err == nil {
			t.Errorf("NewServer(%+v) succeeded, want an error", cfg)
		}
	}
}
