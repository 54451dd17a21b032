// Package access decides what a verified caller may do with one API operation, the same way at
// every door: it builds the policy input from the token and the operation, and turns a refusal
// into its problem. The role → permission matrix, trial expiry and Governor approval live in
// the Rego policies alone (package policy); the gateway asks the OPA service for them and the
// backend evaluates the same policies in process, so the two cannot disagree.
package access

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/policy"
	"github.com/waooaw/waooaw/internal/services/apidoc"
	"github.com/waooaw/waooaw/internal/services/identity"
	"github.com/waooaw/waooaw/internal/token"
)

// Input is the policy input for a caller with claims c using operation rt with method.
func Input(c *token.Claims, rt apidoc.Route, method string) policy.Input {
	in := policy.Input{
		Method:     method,
		Permission: rt.Permission,
		Resource:   rt.Resource(),
		Action:     rt.Action(),
		User: policy.User{
			ID: c.UserID, Roles: c.Roles, CustomerID: c.CustomerID,
			GovernorAgentID: c.GovernorAgentID, AgentID: c.AgentID,
		},
		Trial: policy.Trial{Mode: c.TrialMode},
	}
	if c.TrialExpiresAt != nil {
		in.Trial.ExpiresAt = c.TrialExpiresAt.UTC().Format(time.RFC3339)
	}
	return in
}

// PermissionDenied is the 403 for a caller whose roles lack rt's permission.
func PermissionDenied(rt apidoc.Route, dec policy.Decision) *httpx.Problem {
	detail := dec.Deny.Reason
	if detail == "" {
		detail = fmt.Sprintf("Permission %s requires one of the roles: %s", rt.Permission, strings.Join(dec.RBAC.AllowedRoles, ", "))
	}
	return httpx.NewProblem(httpx.SlugPermissionDenied, detail).
		With("resource", rt.Resource()).
		With("action", rt.Action()).
		With("required_permission", rt.Permission).
		With("allowed_roles", dec.RBAC.AllowedRoles)
}

// TrialExpired is the 403 for a trial user whose trial is over. upgradeURL may be empty where
// the service does not know it.
func TrialExpired(c *token.Claims, upgradeURL string) *httpx.Problem {
	var expires any
	if c.TrialExpiresAt != nil {
		expires = c.TrialExpiresAt.UTC().Format(time.RFC3339)
	}
	p := httpx.NewProblem(httpx.SlugTrialExpired,
		"Your trial has ended. Upgrade to a subscription to continue.").
		With("trial_expires_at", expires)
	if upgradeURL != "" {
		p = p.With("upgrade_url", upgradeURL)
	}
	return p
}

// Refused is the 403 for any other denial: a layer this code does not present otherwise, or a
// Governor-only action on a door that cannot redirect to the approval UI.
func Refused(rt apidoc.Route, dec policy.Decision) *httpx.Problem {
	p := httpx.NewProblem(httpx.SlugPermissionDenied, or(dec.Deny.Reason, "The policy refused the request.")).
		With("resource", rt.Resource()).With("action", rt.Action()).With("required_permission", rt.Permission)
	if dec.Deny.Layer == policy.LayerGovernor {
		p = p.With("governor_approval_required", true)
	}
	return p
}

// Unavailable is the 503 when no decision could be had: the request is refused, never guessed.
func Unavailable() *httpx.Problem {
	return httpx.NewProblem(httpx.SlugServiceUnavailable,
		"The policy engine is unavailable, so the request was refused. Try again shortly.").WithHeader("Retry-After", "1")
}

// Decider is what Authorize asks: a policy decision at an instant.
type Decider interface {
	Decide(ctx context.Context, in policy.Input, now time.Time) (policy.Decision, bool, error)
}

// Authorize enforces rt's permission, trial expiry and Governor approval on a request that
// identity.Authenticate has already verified. It is the backend's door; the gateway enforces
// the same decision in its own pipeline, where a Governor-only action is redirected rather than
// refused and the trial task counter and the budget are counted too.
func Authorize(d Decider, rt apidoc.Route, logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := identity.FromContext(r.Context())
			if c == nil {
				// Authorize runs only behind Authenticate; a route wired without it fails closed.
				httpx.WriteProblem(w, r, identity.Problem(token.ErrMissingHeader))
				return
			}
			dec, _, err := d.Decide(r.Context(), Input(c, rt, r.Method), time.Now())
			switch {
			case err != nil:
				logger.ErrorContext(r.Context(), "policy decision failed", "error", err)
				httpx.WriteProblem(w, r, Unavailable())
			case !dec.RBAC.Allowed:
				httpx.WriteProblem(w, r, PermissionDenied(rt, dec))
			case dec.Trial.Mode && dec.Trial.Expired:
				httpx.WriteProblem(w, r, TrialExpired(c, ""))
			case !dec.Allow:
				httpx.WriteProblem(w, r, Refused(rt, dec))
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
