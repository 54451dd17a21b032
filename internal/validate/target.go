package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/waooaw/waooaw/internal/token"
)

// Target is the stack a run checks.
type Target struct {
	CPURL, PPURL, GatewayURL, BackendURL string
	// DatabaseURL lets the database check connect itself; empty skips it.
	DatabaseURL string
	// OPAURL is the policy engine's REST API, for the security suite's policy-writes check;
	// empty skips it.
	OPAURL string
	// Key mints tokens of any role (the stack's own key). Without it, Token is used for the
	// checks that need one, and the checks that need other roles are skipped.
	Key   *token.SigningKey
	Token string
	// Logs returns a service's last n log lines, for failures; nil when they are not at hand.
	Logs func(service string, n int) []string
	// Client is the HTTP client (default: one that never follows redirects).
	Client *http.Client
}

// Demo customers of the seed, for checks that read seeded data.
const demoCustomerA = "11111111-1111-4111-8111-111111111111"

// mint returns a token for the roles, with the options applied to its claims.
func (t *Target) mint(sub string, roles []string, opts ...func(*token.Claims)) (string, error) {
	if t.Key == nil {
		return "", errNeedsKey
	}
	c := token.NewClaims(sub, sub+"@verify.waooaw.test", roles, 10*time.Minute, time.Now())
	for _, o := range opts {
		o(c)
	}
	return t.Key.Sign(c)
}

// errNeedsKey marks a check that cannot run without the stack's signing key.
var errNeedsKey = skipError("needs the stack's signing key to mint tokens (run on the stack's machine, or pass --key)")

// skipError is an error that makes a check skipped rather than failed.
type skipError string

func (e skipError) Error() string { return string(e) }

func customer(id string) func(*token.Claims) { return func(c *token.Claims) { c.CustomerID = id } }

// call is one HTTP request of a check.
type call struct {
	method, url, token string
	body               any
	// raw is a body sent as it is (its Content-Type, if any, goes in header); body must be nil.
	raw    []byte
	header map[string]string
}

// answer is what came back, read in full (bodies here are small).
type answer struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
}

// do sends c and records the exchange in ev.
func (t *Target) do(ctx context.Context, ev *evidence, c call) (*answer, error) {
	var body io.Reader
	if c.body != nil {
		data, err := json.Marshal(c.body)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	} else if c.raw != nil {
		body = bytes.NewReader(c.raw)
	}
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url, body)
	if err != nil {
		return nil, err
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	began := time.Now()
	resp, err := t.client().Do(req)
	if err != nil {
		ev.add("%s %s → %v", method, c.url, err)
		return nil, fmt.Errorf("%s %s: %w", method, c.url, unwrap(err))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := &answer{status: resp.StatusCode, header: resp.Header, body: data, elapsed: time.Since(began)}
	ev.add("%s %s → %s (%dms)", method, c.url, resp.Status, a.elapsed.Milliseconds())
	ev.add("  body: %s", excerpt(data))
	return a, nil
}

func unwrap(err error) error {
	if u, ok := err.(interface{ Unwrap() error }); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}

var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (t *Target) client() *http.Client {
	if t.Client != nil {
		return t.Client
	}
	return noRedirects
}

// excerpt shortens a body for evidence.
func excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}

// json decodes the answer's body.
func (a *answer) json(v any) error {
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("the body is not the JSON expected: %v", err)
	}
	return nil
}

// problem is the part of an RFC 9457 body the checks read.
type problem struct {
	Type          string `json:"type"`
	Status        int    `json:"status"`
	Instance      string `json:"instance"`
	CorrelationID string `json:"correlation_id"`
	Detail        string `json:"detail"`
}

// slug is the problem type's last path element ("unauthorized").
func (p problem) slug() string {
	return p.Type[strings.LastIndex(p.Type, "/")+1:]
}

// expectProblem fails unless a is a problem with status and slug.
func expectProblem(a *answer, status int, slug string) (problem, error) {
	var p problem
	if a.status != status {
		return p, fmt.Errorf("status %d, want %d %s", a.status, status, slug)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		return p, fmt.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if err := a.json(&p); err != nil {
		return p, err
	}
	if p.slug() != slug {
		return p, fmt.Errorf("problem type %q, want …/%s", p.Type, slug)
	}
	return p, nil
}

// evidence collects what a check saw.
type evidence struct{ lines []string }

func (e *evidence) add(format string, args ...any) {
	e.lines = append(e.lines, fmt.Sprintf(format, args...))
}
