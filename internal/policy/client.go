package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultTimeout bounds one exchange with OPA: a slower policy engine counts as unavailable and
// the gateway fails closed (SPEC §4.6).
const DefaultTimeout = 2 * time.Second

// maxResponseBytes bounds what is read of OPA's answer; a decision document is under 1 KiB.
const maxResponseBytes = 1 << 20

// ErrUnavailable wraps every failure to get a usable decision: transport errors, timeouts,
// statuses other than 200, and undefined or ill-shaped results. The gateway answers all of them
// alike, with 503.
var ErrUnavailable = errors.New("policy engine unavailable")

// Client talks to OPA's REST API, whether served by the official image or by Serve.
type Client struct {
	decisionURL string
	healthURL   string
	http        *http.Client
}

// NewClient returns a client for the OPA server at baseURL (e.g. "http://127.0.0.1:8181").
// A timeout of zero or less means DefaultTimeout.
func NewClient(baseURL string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("OPA URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OPA URL %q: want http://host:port or https://host:port", baseURL)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	base := strings.TrimSuffix(u.String(), "/")
	transport := &http.Transport{
		// OPA is a sidecar on the same host or network; a proxy from the environment would
		// only add a hop.
		Proxy:       nil,
		DialContext: (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		// Every gateway request may need a decision: keep enough idle connections that
		// concurrent requests reuse them instead of dialling anew.
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		// Decisions are small and OPA is near; compressing them only costs CPU.
		DisableCompression: true,
	}
	return &Client{
		decisionURL: base + DecisionPath,
		healthURL:   base + "/health",
		http:        &http.Client{Transport: transport, Timeout: timeout},
	}, nil
}

// Decide asks OPA for the decision on in.
func (c *Client) Decide(ctx context.Context, in Input) (Decision, error) {
	if in.User.Roles == nil {
		// The policy reads roles as a collection; send an empty one rather than null.
		in.User.Roles = []string{}
	}
	body, err := json.Marshal(struct {
		Input Input `json:"input"`
	}{in})
	if err != nil {
		return Decision{}, fmt.Errorf("encode policy input: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.decisionURL, bytes.NewReader(body))
	if err != nil {
		return Decision{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/json")

	var answer struct {
		Result *wireDecision `json:"result"`
	}
	if err := c.exchange(req, &answer); err != nil {
		return Decision{}, err
	}
	if answer.Result == nil {
		return Decision{}, fmt.Errorf("%w: POST %s: decision is undefined (are the policies loaded?)", ErrUnavailable, c.decisionURL)
	}
	d, err := answer.Result.decision(in)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: POST %s: %w", ErrUnavailable, c.decisionURL, err)
	}
	return d, nil
}

// Healthy reports whether OPA answers GET /health with 200, which it does once it can evaluate
// policies.
func (c *Client) Healthy(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.healthURL, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return c.exchange(req, nil)
}

// exchange sends req and decodes a 200 answer into v (nil: ignore the body).
func (c *Client) exchange(req *http.Request, v any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer func() {
		// Draining lets the connection go back to the pool.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		resp.Body.Close()
	}()
	where := req.Method + " " + req.URL.String()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s: status %d", ErrUnavailable, where, resp.StatusCode)
	}
	if v == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(v); err != nil {
		return fmt.Errorf("%w: %s: decode answer: %w", ErrUnavailable, where, err)
	}
	return nil
}

// wireDecision is a decision as it arrives: a member left out of the document stays nil, so a
// policy that no longer produces it is noticed instead of read as false or zero.
type wireDecision struct {
	Allow    *bool          `json:"allow"`
	Deny     *Deny          `json:"deny"`
	RBAC     *RBAC          `json:"rbac"`
	Governor *Governor      `json:"governor"`
	Trial    *TrialDecision `json:"trial"`
	Target   *string        `json:"target"`
	Budget   *Budget        `json:"budget"`
}

// decision checks w's shape and its consistency with the input it answers. Any doubt is an
// error, so the gateway fails closed rather than acting on a decision it misreads.
func (w *wireDecision) decision(in Input) (Decision, error) {
	if w.Allow == nil || w.Deny == nil || w.RBAC == nil || w.Governor == nil ||
		w.Trial == nil || w.Target == nil || w.Budget == nil {
		return Decision{}, errors.New("decision lacks members (want allow, deny, rbac, governor, trial, target, budget)")
	}
	d := Decision{
		Allow:    *w.Allow,
		Deny:     *w.Deny,
		RBAC:     *w.RBAC,
		Governor: *w.Governor,
		Trial:    *w.Trial,
		Target:   *w.Target,
		Budget:   *w.Budget,
	}
	switch {
	case !slices.Contains([]string{LayerNone, LayerRBAC, LayerTrial, LayerGovernor}, d.Deny.Layer):
		return Decision{}, fmt.Errorf("decision denies in unknown layer %q", d.Deny.Layer)
	case d.Allow != (d.Deny.Layer == LayerNone):
		return Decision{}, fmt.Errorf("decision has allow=%t with deny layer %q", d.Allow, d.Deny.Layer)
	case d.Target != TargetProduction && d.Target != TargetSandbox:
		return Decision{}, fmt.Errorf("decision has unknown target %q", d.Target)
	case d.RBAC.RequiredPermission != in.Permission:
		return Decision{}, fmt.Errorf("decision is for permission %q, not %q", d.RBAC.RequiredPermission, in.Permission)
	case len(d.Budget.AlertThresholds) == 0:
		return Decision{}, errors.New("decision has no budget alert thresholds")
	}
	return d, nil
}
