package httpx

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
)

type agentInput struct {
	Name         string    `json:"name"`
	PriceMonthly int       `json:"price_monthly"`
	IndustryID   uuid.UUID `json:"industry_id"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		wantSlug    string // "" means success
		wantField   string
		wantMessage string
	}{
		{name: "valid", body: `{"name":"Ada","price_monthly":1200}`, contentType: "application/json"},
		{name: "valid without content type", body: `{"name":"Ada"}`},
		{name: "valid with charset", body: `{"name":"Ada"}`, contentType: "application/json; charset=utf-8"},
		{name: "JSON sent as curl -d sends it", body: `{"name":"Ada"}`, contentType: "application/x-www-form-urlencoded"},
		{name: "valid +json", body: `{"name":"Ada"}`, contentType: "application/merge-patch+json"},
		{name: "surrounding whitespace", body: " \n{\"name\":\"Ada\"}\n "},
		{name: "empty", body: "", wantSlug: SlugValidationError, wantField: "body", wantMessage: "must not be empty"},
		{name: "whitespace only", body: "  \n", wantSlug: SlugValidationError, wantField: "body", wantMessage: "must not be empty"},
		{name: "garbage", body: "name=Ada", wantSlug: SlugValidationError, wantField: "body", wantMessage: "must be a JSON object"},
		{name: "syntax error", body: `{"name":}`, wantSlug: SlugValidationError, wantField: "body", wantMessage: "not valid JSON"},
		{name: "truncated", body: `{"name":"Ada"`, wantSlug: SlugValidationError, wantField: "body", wantMessage: "not valid JSON"},
		{name: "array", body: `[{"name":"Ada"}]`, wantSlug: SlugValidationError, wantField: "body", wantMessage: "must be a JSON object"},
		{name: "null", body: `null`, wantSlug: SlugValidationError, wantField: "body", wantMessage: "must be a JSON object"},
		{name: "trailing object", body: `{"name":"Ada"}{"name":"Bob"}`, wantSlug: SlugValidationError, wantField: "body", wantMessage: "data after it"},
		{name: "trailing garbage", body: `{"name":"Ada"} x`, wantSlug: SlugValidationError, wantField: "body", wantMessage: "data after it"},
		{name: "wrong type", body: `{"price_monthly":"12"}`, wantSlug: SlugValidationError, wantField: "price_monthly", wantMessage: "field 'price_monthly' must be integer"},
		{name: "fraction for integer", body: `{"price_monthly":12.5}`, wantSlug: SlugValidationError, wantField: "price_monthly", wantMessage: "field 'price_monthly' must be integer"},
		{name: "number for uuid", body: `{"industry_id":7}`, wantSlug: SlugValidationError, wantField: "industry_id", wantMessage: "field 'industry_id' must be string"},
		{name: "malformed uuid", body: `{"industry_id":"nope"}`, wantSlug: SlugValidationError, wantField: "body", wantMessage: "invalid value"},
		{name: "unknown field", body: `{"name":"Ada","foo":1}`, wantSlug: SlugValidationError, wantField: "foo", wantMessage: "unknown field 'foo'"},
		{name: "wrong content type", body: `{"name":"Ada"}`, contentType: "text/plain", wantSlug: SlugUnsupportedMediaType},
		// curl -d sends this type; JSON under it is accepted, a real form body is still refused.
		{name: "form content type with form body", body: `name=Ada`, contentType: "application/x-www-form-urlencoded", wantSlug: SlugValidationError, wantField: "body", wantMessage: "must be a JSON object"},
		{name: "malformed content type", body: `{}`, contentType: "application/", wantSlug: SlugUnsupportedMediaType},
		// encoding/json would silently turn these bytes into U+FFFD.
		{name: "invalid UTF-8 in a string", body: "{\"name\":\"Ad\xffa\"}", wantSlug: SlugValidationError, wantField: "body", wantMessage: "not valid UTF-8: invalid byte at offset 11"},
		{name: "truncated UTF-8 sequence", body: "{\"name\":\"Ada\xc3\"}", wantSlug: SlugValidationError, wantField: "body", wantMessage: "not valid UTF-8"},
		{name: "UTF-8 encoded surrogate", body: "{\"name\":\"\xed\xa0\x80\"}", wantSlug: SlugValidationError, wantField: "body", wantMessage: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/agents", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			var dst agentInput
			err := DecodeJSON(req, &dst)
			if tt.wantSlug == "" {
				if err != nil {
					t.Fatalf("DecodeJSON: %v", err)
				}
				if dst.Name != "Ada" {
					t.Errorf("decoded %+v, want name Ada", dst)
				}
				return
			}
			p, ok := errors.AsType[*Problem](err)
			if !ok {
				t.Fatalf("err = %v (%T), want a *Problem", err, err)
			}
			if p.Slug != tt.wantSlug {
				t.Errorf("slug = %q, want %q (%v)", p.Slug, tt.wantSlug, p)
			}
			if tt.wantSlug != SlugValidationError {
				return
			}
			if len(p.Violations) != 1 {
				t.Fatalf("violations = %v, want one", p.Violations)
			}
			v := p.Violations[0]
			if v.Field != tt.wantField || !strings.Contains(v.Message, tt.wantMessage) {
				t.Errorf("violation = %+v, want field %q and a message containing %q", v, tt.wantField, tt.wantMessage)
			}
		})
	}
}

func TestDecodeJSONBodyOverLimit(t *testing.T) {
	body := `{"name":"` + strings.Repeat("a", 20<<20) + `"}`
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/agents", strings.NewReader(body))
	req.Body = http.MaxBytesReader(rec, req.Body, DefaultBodyLimit)

	err := DecodeJSON(req, &agentInput{})
	p, ok := errors.AsType[*Problem](err)
	if !ok || p.Status != http.StatusRequestEntityTooLarge || p.Slug != SlugPayloadTooLarge {
		t.Fatalf("err = %v, want 413 payload-too-large", err)
	}
}

func TestDecodeJSONTrailingDataOverLimit(t *testing.T) {
	body := `{"name":"Ada"}` + strings.Repeat(" ", 100)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Body = http.MaxBytesReader(rec, req.Body, 50)

	if p, ok := errors.AsType[*Problem](DecodeJSON(req, &agentInput{})); !ok || p.Slug != SlugPayloadTooLarge {
		t.Fatalf("want payload-too-large, got %v", p)
	}
}

// failingBody fails like a client that went away mid-body.
type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }
func (failingBody) Close() error             { return nil }

func TestDecodeJSONReadFailureIsNotAClientProblem(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.Body = failingBody{}
	err := DecodeJSON(req, &agentInput{})
	if _, ok := errors.AsType[*Problem](err); ok || !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("err = %v, want the wrapped read error", err)
	}
}
