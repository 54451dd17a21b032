package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Problem slugs (SPEC §2). The slug is the last segment of the problem's
// type URI and decides its status; see problemKind for the table.
const (
	SlugUnauthorized         = "unauthorized"
	SlugInvalidTokenFormat   = "invalid-token-format"
	SlugTokenExpired         = "token-expired"
	SlugInvalidToken         = "invalid-token"
	SlugPermissionDenied     = "permission-denied"
	SlugTrialExpired         = "trial-expired"
	SlugTrialLimitExceeded   = "trial-limit-exceeded"
	SlugBudgetExceeded       = "budget-exceeded"
	SlugNotFound             = "not-found"
	SlugMethodNotAllowed     = "method-not-allowed"
	SlugValidationError      = "validation-error"
	SlugConflict             = "conflict"
	SlugPayloadTooLarge      = "payload-too-large"
	SlugUnsupportedMediaType = "unsupported-media-type"
	SlugHeadersTooLarge      = "request-header-fields-too-large"
	SlugBadGateway           = "bad-gateway"
	SlugServiceUnavailable   = "service-unavailable"
	SlugGatewayTimeout       = "gateway-timeout"
	SlugInternal             = "internal-server-error"
)

// ProblemTypeBase prefixes a slug to form a problem's type URI.
const ProblemTypeBase = "https://waooaw.com/errors/"

// problemContentType is the media type of RFC 9457 problem documents.
const problemContentType = "application/problem+json"

// problemKind is the one table of slugs: it returns the status and title of
// slug, and ok=false for a slug it does not know. A switch rather than a map
// keeps the table immutable.
func problemKind(slug string) (status int, title string, ok bool) {
	switch slug {
	case SlugUnauthorized:
		return http.StatusUnauthorized, "Unauthorized", true
	case SlugInvalidTokenFormat:
		return http.StatusUnauthorized, "Invalid Token Format", true
	case SlugTokenExpired:
		return http.StatusUnauthorized, "Token Expired", true
	case SlugInvalidToken:
		return http.StatusUnauthorized, "Invalid Token", true
	case SlugPermissionDenied:
		return http.StatusForbidden, "Permission Denied", true
	case SlugTrialExpired:
		return http.StatusForbidden, "Trial Expired", true
	case SlugTrialLimitExceeded:
		return http.StatusTooManyRequests, "Trial Limit Exceeded", true
	case SlugBudgetExceeded:
		return http.StatusPaymentRequired, "Budget Exceeded", true
	case SlugNotFound:
		return http.StatusNotFound, "Not Found", true
	case SlugMethodNotAllowed:
		return http.StatusMethodNotAllowed, "Method Not Allowed", true
	case SlugValidationError:
		return http.StatusUnprocessableEntity, "Validation Error", true
	case SlugConflict:
		return http.StatusConflict, "Conflict", true
	case SlugPayloadTooLarge:
		return http.StatusRequestEntityTooLarge, "Payload Too Large", true
	case SlugUnsupportedMediaType:
		return http.StatusUnsupportedMediaType, "Unsupported Media Type", true
	case SlugHeadersTooLarge:
		return http.StatusRequestHeaderFieldsTooLarge, "Request Header Fields Too Large", true
	case SlugBadGateway:
		return http.StatusBadGateway, "Bad Gateway", true
	case SlugServiceUnavailable:
		return http.StatusServiceUnavailable, "Service Unavailable", true
	case SlugGatewayTimeout:
		return http.StatusGatewayTimeout, "Gateway Timeout", true
	case SlugInternal:
		return http.StatusInternalServerError, "Internal Server Error", true
	}
	return 0, "", false
}

// Violation is one invalid field of a validation-error problem.
type Violation struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem detail. It is also an error, so service code
// returns it like any other error and WriteError renders it.
type Problem struct {
	Slug   string
	Status int
	Title  string
	Detail string
	// Violations is serialized as "violations" when non-empty.
	Violations []Violation
	// Extensions are extra top-level members (e.g. required_permission).
	// They never override the standard members.
	Extensions map[string]any
	// Headers are extra response headers (e.g. WWW-Authenticate, Retry-After).
	Headers http.Header
}

// Error describes the problem for logs and error chains.
func (p *Problem) Error() string {
	if p.Detail == "" {
		return fmt.Sprintf("%d %s", p.Status, p.Slug)
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Slug, p.Detail)
}

// NewProblem returns the problem for slug with its status and title from the
// table. An unknown slug is a programming error; it becomes a 500
// internal-server-error rather than a response with a made-up status.
func NewProblem(slug, detail string) *Problem {
	status, title, ok := problemKind(slug)
	if !ok {
		slug = SlugInternal
		status, title, _ = problemKind(slug)
	}
	return &Problem{Slug: slug, Status: status, Title: title, Detail: detail}
}

// With adds the extension member key=value and returns p for chaining.
func (p *Problem) With(key string, value any) *Problem {
	if p.Extensions == nil {
		p.Extensions = make(map[string]any)
	}
	p.Extensions[key] = value
	return p
}

// WithHeader adds a response header and returns p for chaining.
func (p *Problem) WithHeader(key, value string) *Problem {
	if p.Headers == nil {
		p.Headers = make(http.Header)
	}
	p.Headers.Add(key, value)
	return p
}

// NotFound is a 404 not-found problem.
func NotFound(detail string) *Problem { return NewProblem(SlugNotFound, detail) }

// Conflict is a 409 conflict problem.
func Conflict(detail string) *Problem { return NewProblem(SlugConflict, detail) }

// Invalid is a 422 validation-error problem listing the violations.
func Invalid(violations ...Violation) *Problem {
	p := NewProblem(SlugValidationError, "The request is invalid; see violations for the fields to fix.")
	p.Violations = violations
	return p
}

// Internal is a 500 problem whose detail says nothing about the cause, so no
// SQL, stack or driver text can reach a client. The cause belongs in the log,
// which the correlation id in the body points to.
func Internal() *Problem {
	return NewProblem(SlugInternal, "An unexpected error occurred. Quote the correlation_id when reporting it.")
}

// problemBody is the wire form of the standard members, in the order a reader
// expects them.
type problemBody struct {
	Type          string      `json:"type"`
	Title         string      `json:"title"`
	Status        int         `json:"status"`
	Detail        string      `json:"detail"`
	Instance      string      `json:"instance"`
	CorrelationID string      `json:"correlation_id,omitempty"`
	Violations    []Violation `json:"violations,omitempty"`
}

// isStandardMember reports whether name is a member that extensions must not
// replace.
func isStandardMember(name string) bool {
	switch name {
	case "type", "title", "status", "detail", "instance", "correlation_id", "violations":
		return true
	}
	return false
}

// WriteProblem writes p as application/problem+json: type, title, status,
// detail, instance (the path the client asked for: see ClientPath), correlation_id (from the request
// context), violations and the extension members, plus p.Headers.
func WriteProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	status, title := p.Status, p.Title
	if kindStatus, kindTitle, ok := problemKind(p.Slug); ok {
		if status < 400 || status > 599 {
			status = kindStatus
		}
		if title == "" {
			title = kindTitle
		}
	}
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	detail := p.Detail
	if detail == "" {
		detail = title
	}
	body := encodeProblem(problemBody{
		Type:          ProblemTypeBase + p.Slug,
		Title:         title,
		Status:        status,
		Detail:        detail,
		Instance:      ClientPath(r),
		CorrelationID: CorrelationID(r.Context()),
		Violations:    p.Violations,
	}, p.Extensions)

	h := w.Header()
	for k, vs := range p.Headers {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set("Content-Type", problemContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// encodeProblem marshals the standard members followed by the extensions.
// Extensions that collide with a standard member are dropped; extensions that
// cannot be marshalled are dropped as a whole rather than losing the problem.
func encodeProblem(std problemBody, extensions map[string]any) []byte {
	head, _ := json.Marshal(std) // cannot fail: strings and ints only
	ext := make(map[string]any, len(extensions))
	for k, v := range extensions {
		if !isStandardMember(k) {
			ext[k] = v
		}
	}
	if len(ext) == 0 {
		return append(head, '\n')
	}
	tail, err := json.Marshal(ext) // map keys marshal sorted: stable output
	if err != nil {
		return append(head, '\n')
	}
	// Splice {"type":…} and {"ext":…} into one object.
	var b bytes.Buffer
	b.Grow(len(head) + len(tail) + 1)
	b.Write(head[:len(head)-1])
	b.WriteByte(',')
	b.Write(tail[1:])
	b.WriteByte('\n')
	return b.Bytes()
}

// WriteError writes err as a problem when it is (or wraps) a *Problem.
// Any other error is logged at error level with the request's correlation id
// and answered with Internal(), so its text never reaches the client.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if p, ok := errors.AsType[*Problem](err); ok {
		WriteProblem(w, r, p)
		return
	}
	logger.LogAttrs(r.Context(), slog.LevelError, "request failed",
		slog.String("error", err.Error()),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("correlation_id", CorrelationID(r.Context())),
	)
	WriteProblem(w, r, Internal())
}

// WriteJSON writes v as application/json with status. v is marshalled before
// anything is sent, so a value that cannot be marshalled yields a clean 500
// instead of a truncated body behind a success status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		p := Internal()
		body = encodeProblem(problemBody{
			Type: ProblemTypeBase + p.Slug, Title: p.Title, Status: p.Status, Detail: p.Detail,
		}, nil)
		w.Header().Set("Content-Type", problemContentType)
	} else {
		body = append(body, '\n')
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
