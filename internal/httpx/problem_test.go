package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSlugStatuses(t *testing.T) {
	want := map[string]int{
		SlugUnauthorized:         401,
		SlugInvalidTokenFormat:   401,
		SlugTokenExpired:         401,
		SlugInvalidToken:         401,
		SlugPermissionDenied:     403,
		SlugTrialExpired:         403,
		SlugTrialLimitExceeded:   429,
		SlugBudgetExceeded:       402,
		SlugNotFound:             404,
		SlugMethodNotAllowed:     405,
		SlugValidationError:      422,
		SlugConflict:             409,
		SlugPayloadTooLarge:      413,
		SlugUnsupportedMediaType: 415,
		SlugBadGateway:           502,
		SlugServiceUnavailable:   503,
		SlugGatewayTimeout:       504,
		SlugInternal:             500,
	}
	for slug, status := range want {
		t.Run(slug, func(t *testing.T) {
			p := NewProblem(slug, "d")
			if p.Slug != slug || p.Status != status || p.Title == "" {
				t.Fatalf("NewProblem(%q) = slug %q status %d title %q, want slug %q status %d and a title",
					slug, p.Slug, p.Status, p.Title, slug, status)
			}
			rec := httptest.NewRecorder()
			WriteProblem(rec, httptest.NewRequest(http.MethodGet, "/x", nil), p)
			if rec.Code != status {
				t.Errorf("response status = %d, want %d", rec.Code, status)
			}
			body := decodeBody(t, rec.Body.Bytes())
			if body["type"] != ProblemTypeBase+slug {
				t.Errorf("type = %v, want %s", body["type"], ProblemTypeBase+slug)
			}
		})
	}
}

func TestNewProblemUnknownSlugIsInternal(t *testing.T) {
	p := NewProblem("no-such-slug", "d")
	if p.Slug != SlugInternal || p.Status != http.StatusInternalServerError {
		t.Fatalf("got slug %q status %d, want %q 500", p.Slug, p.Status, SlugInternal)
	}
}

func TestWriteProblemBody(t *testing.T) {
	p := NewProblem(SlugPermissionDenied, "Only admin may create agents.").
		With("required_permission", "agent.create").
		WithHeader("WWW-Authenticate", `Bearer error="insufficient_scope"`)
	p.Violations = []Violation{{Field: "name", Message: "is required"}}
	h := Correlation(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, p)
	}))
	req := httptest.NewRequest(http.MethodPost, "/api/v1/agents?x=1", nil)
	req.Header.Set(HeaderCorrelationID, "corr-123")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != http.StatusForbidden {
		t.Errorf("status = %d, want 403", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer error="insufficient_scope"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	body := decodeBody(t, rec.Body.Bytes())
	want := map[string]any{
		"type":                "https://waooaw.com/errors/permission-denied",
		"title":               "Permission Denied",
		"status":              float64(403),
		"detail":              "Only admin may create agents.",
		"instance":            "/api/v1/agents",
		"correlation_id":      "corr-123",
		"required_permission": "agent.create",
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("member %q = %#v, want %#v", k, body[k], v)
		}
	}
	violations, _ := body["violations"].([]any)
	if len(violations) != 1 || fmt.Sprint(violations[0]) != "map[field:name message:is required]" {
		t.Errorf("violations = %#v, want one {name, is required}", body["violations"])
	}
}

func TestWriteProblemOmitsEmptyViolations(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteProblem(rec, httptest.NewRequest(http.MethodGet, "/a", nil), NotFound("gone"))
	if _, ok := decodeBody(t, rec.Body.Bytes())["violations"]; ok {
		t.Errorf("violations present in %s", rec.Body)
	}
}

func TestExtensionsCannotOverrideStandardMembers(t *testing.T) {
	p := Conflict("Agent name taken.").
		With("type", "https://evil.example/").
		With("title", "OK").
		With("status", 200).
		With("detail", "fine").
		With("instance", "/elsewhere").
		With("correlation_id", "forged").
		With("violations", "none").
		With("existing_id", "a1")
	h := Correlation(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { WriteProblem(w, r, p) }))
	req := httptest.NewRequest(http.MethodPost, "/api/v1/agents", nil)
	req.Header.Set(HeaderCorrelationID, "real")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	body := decodeBody(t, rec.Body.Bytes())
	want := map[string]any{
		"type":           ProblemTypeBase + SlugConflict,
		"title":          "Conflict",
		"status":         float64(409),
		"detail":         "Agent name taken.",
		"instance":       "/api/v1/agents",
		"correlation_id": "real",
		"existing_id":    "a1",
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("member %q = %#v, want %#v", k, body[k], v)
		}
	}
	if _, ok := body["violations"]; ok {
		t.Errorf("extension set violations: %s", rec.Body)
	}
	if strings.Count(rec.Body.String(), `"status"`) != 1 {
		t.Errorf("duplicate member in %s", rec.Body)
	}
}

func TestWriteErrorHidesInternalErrors(t *testing.T) {
	logger, sink := newTestLogger(t)
	const secret = `pq: syntax error at or near "SELECT password FROM users"`
	h := Correlation(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, logger, fmt.Errorf("list agents: %w", errors.New(secret)))
	}))
	req := httptest.NewRequest(http.MethodGet, "/api/v1/agents", nil)
	req.Header.Set(HeaderCorrelationID, "c-500")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "SELECT") || strings.Contains(rec.Body.String(), "pq:") {
		t.Errorf("body leaks the internal error: %s", rec.Body)
	}
	body := decodeBody(t, rec.Body.Bytes())
	if body["type"] != ProblemTypeBase+SlugInternal || body["correlation_id"] != "c-500" {
		t.Errorf("body = %s, want internal-server-error with correlation_id c-500", rec.Body)
	}
	lines := sink.withMsg(t, "request failed")
	if len(lines) != 1 {
		t.Fatalf("got %d 'request failed' log lines, want 1; log:\n%s", len(lines), sink)
	}
	if lines[0]["level"] != "ERROR" || lines[0]["correlation_id"] != "c-500" ||
		!strings.Contains(fmt.Sprint(lines[0]["error"]), "SELECT password") {
		t.Errorf("log line = %v, want ERROR with the error text and correlation_id c-500", lines[0])
	}
}

func TestWriteErrorRendersWrappedProblem(t *testing.T) {
	logger, sink := newTestLogger(t)
	rec := httptest.NewRecorder()
	err := fmt.Errorf("create agent: %w", Conflict("An agent named Ada exists."))
	WriteError(rec, httptest.NewRequest(http.MethodPost, "/api/v1/agents", nil), logger, err)
	if rec.Code != http.StatusConflict {
		t.Errorf("status = %d, want 409", rec.Code)
	}
	if body := decodeBody(t, rec.Body.Bytes()); body["detail"] != "An agent named Ada exists." {
		t.Errorf("detail = %v", body["detail"])
	}
	if sink.String() != "" {
		t.Errorf("a client problem was logged as an error: %s", sink)
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, http.StatusCreated, map[string]int{"n": 1})
	if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/json" ||
		strings.TrimSpace(rec.Body.String()) != `{"n":1}` {
		t.Errorf("got %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}

	rec = httptest.NewRecorder()
	WriteJSON(rec, http.StatusOK, map[string]any{"c": make(chan int)})
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Errorf("unmarshallable value: got %d %q, want a 500 problem", rec.Code, rec.Header().Get("Content-Type"))
	}
}
