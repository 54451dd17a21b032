package httpx

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

func TestCORS(t *testing.T) {
	const (
		allowed = "https://app.waooaw.com"
		other   = "https://evil.example"
	)
	preflight := http.Header{"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization"}}
	tests := []struct {
		name      string
		origins   []string
		method    string
		origin    string
		header    http.Header
		wantNext  bool   // the request reached the handler behind CORS
		wantAllow string // Access-Control-Allow-Origin, "" for none
		wantCreds bool
	}{
		{"preflight from an allowed origin", []string{allowed}, http.MethodOptions, allowed, preflight, false, allowed, true},
		{"preflight from another origin", []string{allowed}, http.MethodOptions, other, preflight, false, "", false},
		{"preflight with a wildcard", []string{"*"}, http.MethodOptions, other, preflight, false, "*", false},
		{"listed origin beside a wildcard", []string{"*", allowed}, http.MethodOptions, allowed, preflight, false, allowed, true},
		{"preflight with no origins configured", nil, http.MethodOptions, allowed, preflight, false, "", false},
		{"request from an allowed origin", []string{allowed}, http.MethodGet, allowed, nil, true, allowed, true},
		{"origin compared without case", []string{allowed}, http.MethodGet, "https://App.WAOOAW.com", nil, true, "https://App.WAOOAW.com", true},
		{"request from another origin", []string{allowed}, http.MethodPost, other, nil, true, "", false},
		{"request with a wildcard", []string{"*"}, http.MethodGet, other, nil, true, "*", false},
		{"request without an origin", []string{allowed}, http.MethodGet, "", nil, true, "", false},
		{"OPTIONS that is not a preflight", []string{allowed}, http.MethodOptions, allowed, nil, true, allowed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reached atomic.Bool
			srv := httptest.NewServer(CORS(tt.origins)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				reached.Store(true)
				w.WriteHeader(http.StatusUnauthorized) // as an authenticating handler would
			})))
			defer srv.Close()
			h := tt.header.Clone()
			if h == nil {
				h = http.Header{}
			}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			resp, _ := do(t, newRequest(t, tt.method, srv.URL+"/api/agents", nil, h))

			if reached.Load() != tt.wantNext {
				t.Errorf("reached the handler = %v, want %v", reached.Load(), tt.wantNext)
			}
			isPreflight := !tt.wantNext
			if isPreflight && resp.StatusCode != http.StatusNoContent {
				t.Errorf("preflight status = %d, want 204", resp.StatusCode)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.wantAllow {
				t.Errorf("Allow-Origin = %q, want %q", got, tt.wantAllow)
			}
			if got := resp.Header.Get("Access-Control-Allow-Credentials") == "true"; got != tt.wantCreds {
				t.Errorf("Allow-Credentials true = %v, want %v", got, tt.wantCreds)
			}
			if !slices.Contains(resp.Header.Values("Vary"), "Origin") {
				t.Errorf("Vary = %q, want Origin", resp.Header.Values("Vary"))
			}
			allowedPreflight := isPreflight && tt.wantAllow != ""
			wantHeaders := map[string]string{
				"Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
				"Access-Control-Allow-Headers": "Authorization, Content-Type, X-Correlation-ID, X-Request-ID, traceparent",
				"Access-Control-Max-Age":       "600",
			}
			for name, want := range wantHeaders {
				if !allowedPreflight {
					want = ""
				}
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			expose := resp.Header.Get("Access-Control-Expose-Headers")
			if wantExpose := !isPreflight && tt.wantAllow != ""; wantExpose != (expose != "") {
				t.Errorf("Expose-Headers = %q, want present: %v", expose, wantExpose)
			}
			if expose != "" {
				for _, name := range []string{"X-Correlation-ID", "Server-Timing", "X-Budget-Alert-Level", "X-Platform-Utilization",
					"X-Agent-Utilization", "X-Target-Backend", "Retry-After", "Location"} {
					if !strings.Contains(expose, name) {
						t.Errorf("Expose-Headers %q lacks %s", expose, name)
					}
				}
			}
		})
	}
}

func TestParseOrigins(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{" , ", nil, false},
		{"*", []string{"*"}, false},
		{"http://localhost:3000, https://app.waooaw.com", []string{"http://localhost:3000", "https://app.waooaw.com"}, false},
		{"localhost:3000", nil, true},
		{"app.waooaw.com", nil, true},
		{"https://app.waooaw.com/", nil, true},
		{"https://app.waooaw.com/portal", nil, true},
		{"https://app.waooaw.com?x=1", nil, true},
		{"https://app.waooaw.com#top", nil, true},
		{"https://user:pw@app.waooaw.com", nil, true},
		{"http://localhost:", nil, true},
		{"http://localhost:port", nil, true},
		{"https://ok.example,https://bad.example/path", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOrigins(tt.in)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "CORS_ORIGINS") {
					t.Fatalf("ParseOrigins(%q) = %q, %v; want an error naming CORS_ORIGINS", tt.in, got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseOrigins(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
