package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

func TestHealthz(t *testing.T) {
	rec := httptest.NewRecorder()
	Healthz().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" ||
		strings.TrimSpace(rec.Body.String()) != `{"status":"alive"}` {
		t.Errorf("got %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	r := chi.NewRouter()
	r.NotFound(NotFoundHandler().ServeHTTP)
	r.MethodNotAllowed(MethodNotAllowedHandler().ServeHTTP)
	r.Get("/agents", func(http.ResponseWriter, *http.Request) {})
	r.Post("/agents", func(http.ResponseWriter, *http.Request) {})
	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/trials/{id}", func(http.ResponseWriter, *http.Request) {})
	})

	tests := []struct {
		method, path string
		wantStatus   int
		wantSlug     string
		wantAllow    string
	}{
		{http.MethodGet, "/nope", 404, SlugNotFound, ""},
		{http.MethodDelete, "/agents", 405, SlugMethodNotAllowed, "GET, POST"},
		{http.MethodPatch, "/api/v1/trials/7", 405, SlugMethodNotAllowed, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.wantStatus || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("got %d %q, want %d problem", rec.Code, rec.Header().Get("Content-Type"), tt.wantStatus)
			}
			body := decodeBody(t, rec.Body.Bytes())
			if body["type"] != ProblemTypeBase+tt.wantSlug || body["instance"] != tt.path {
				t.Errorf("body = %s", rec.Body)
			}
			if got := rec.Header().Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
		})
	}
}
