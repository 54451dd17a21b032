package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/policy"
	"github.com/waooaw/waooaw/internal/services/access"
	"github.com/waooaw/waooaw/internal/services/apidoc"
	"github.com/waooaw/waooaw/internal/services/gateway/ledger"
	"github.com/waooaw/waooaw/internal/services/identity"
)

// budgetTimeout bounds the Redis round trip, so a dead Redis is answered within 200 ms.
const budgetTimeout = 150 * time.Millisecond

// emptyPathParam reports whether one of the route's {params} matched an empty segment. (The
// mount's catch-all "*" is not a parameter of the route and may be empty.)
func emptyPathParam(r *http.Request) bool {
	p := chi.RouteContext(r.Context()).URLParams
	for i, k := range p.Keys {
		if k != "*" && p.Values[i] == "" {
			return true
		}
	}
	return false
}

// authenticate is the auth layer: a request without a valid token never reaches RBAC.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeFrom(r.Context())
		t0 := time.Now()
		claims, p := identity.Verify(s.cfg.Verifier, r)
		x.timed(layerAuth, t0)
		if p != nil {
			x.decided("auth", "denied", p.Slug)
			s.reject(w, r, x, p)
			return
		}
		x.claims = claims
		next.ServeHTTP(w, r)
	})
}

// serveRoute runs RBAC, policy, budget and the proxy for one API operation.
func (s *Server) serveRoute(rt apidoc.Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeFrom(r.Context())
		if emptyPathParam(r) {
			// chi lets a {param} match an empty segment (/customers//subscriptions): no such
			// resource exists, and the path is not one the route table describes.
			x.decided("route", "denied", "empty path segment")
			s.reject(w, r, x, httpx.NotFound("No resource at this path: a path segment is empty."))
			return
		}
		x.route = &rt
		now := time.Now()
		in := access.Input(x.claims, rt, r.Method)
		in.SandboxConfigured, in.Limits = s.sandbox != nil, s.cfg.Limits

		// RBAC and policy are one OPA decision; the rbac timing is its cost.
		dec, _, err := s.decider.Decide(r.Context(), in, now)
		t := x.timed(layerRBAC, now)
		if err != nil {
			x.decided("rbac", "error", "policy engine unavailable")
			s.logger.ErrorContext(r.Context(), "policy decision failed", "error", err)
			s.reject(w, r, x, access.Unavailable())
			return
		}
		if !dec.RBAC.Allowed {
			x.decided("rbac", "denied", "missing "+rt.Permission)
			s.reject(w, r, x, access.PermissionDenied(rt, dec))
			return
		}

		if p := s.policyLayer(w, r, x, rt, dec); p {
			return
		}
		t = x.timed(layerPolicy, t)

		if !s.budgetLayer(w, r, x, dec, now) {
			return
		}
		x.timed(layerBudget, t)

		proxy := s.production
		x.target = policy.TargetProduction
		if dec.Target == policy.TargetSandbox && s.sandbox != nil {
			proxy, x.target = s.sandbox, policy.TargetSandbox
		}
		x.decided("upstream", "allowed", "")
		x.upstreamStart = time.Now()
		proxy.ServeHTTP(w, r)
	})
}

// policyLayer applies trial expiry and Governor approval; it reports whether it answered.
func (s *Server) policyLayer(w http.ResponseWriter, r *http.Request, x *exchange, rt apidoc.Route, dec policy.Decision) bool {
	switch {
	case dec.Trial.Mode && dec.Trial.Expired:
		x.decided("policy", "denied", "trial expired")
		s.reject(w, r, x, access.TrialExpired(x.claims, s.cfg.UpgradeURL))
		return true
	case dec.Governor.Required && !dec.Governor.Approved:
		x.decided("policy", "denied", "governor approval required")
		q := url.Values{}
		q.Set("action", rt.Permission)
		q.Set("user_id", x.claims.UserID)
		q.Set("resource", r.URL.Path)
		q.Set("correlation_id", httpx.CorrelationID(r.Context()))
		loc := s.cfg.ApprovalURL
		if strings.Contains(loc, "?") {
			loc += "&" + q.Encode()
		} else {
			loc += "?" + q.Encode()
		}
		h := w.Header()
		h.Set("Location", loc)
		h.Set("X-Governor-Approval-Required", "true")
		h.Set("X-Governor-Action", rt.Permission)
		h.Set("Server-Timing", x.serverTiming())
		httpx.WriteJSON(w, http.StatusTemporaryRedirect, map[string]any{
			"status":         "approval_required",
			"action":         rt.Permission,
			"approval_url":   loc,
			"correlation_id": httpx.CorrelationID(r.Context()),
		})
		return true
	case !dec.Allow:
		// A denial this gateway does not know how to present: refuse rather than guess.
		x.decided("policy", "denied", dec.Deny.Reason)
		s.reject(w, r, x, access.Refused(rt, dec))
		return true
	}
	return false
}

// budgetLayer checks and reserves the request's cost and trial task in one Redis round trip;
// it reports whether the request may go on.
func (s *Server) budgetLayer(w http.ResponseWriter, r *http.Request, x *exchange, dec policy.Decision, now time.Time) bool {
	c := x.claims
	req := ledger.Request{
		AgentKey:   or(c.AgentID, c.Subject),
		CustomerID: c.CustomerID,
		UserID:     or(c.UserID, c.Subject),
		TrialTask:  dec.Trial.CountsAsTask,
		Now:        now,
	}
	lim := ledger.Limits{
		CostMicros:            dec.Budget.CostMicros,
		AgentDailyMicros:      dec.Budget.AgentDailyMicros,
		PlatformMonthlyMicros: dec.Budget.PlatformMonthlyMicros,
		TrialTasksPerDay:      dec.Trial.TasksPerDay,
	}
	ctx, cancel := context.WithTimeout(r.Context(), budgetTimeout)
	res, err := s.ledger.Reserve(ctx, req, lim)
	cancel()
	if err != nil {
		s.metrics.budgetError.Inc()
		s.logger.WarnContext(r.Context(), "budget store unavailable", "error", err, "fail_mode", s.failMode())
		if s.cfg.BudgetFailClosed {
			x.decided("budget", "error", "budget store unavailable")
			s.reject(w, r, x, httpx.NewProblem(httpx.SlugServiceUnavailable,
				"The budget service is unavailable, so the request was refused. Try again shortly.").WithHeader("Retry-After", "1"))
			return false
		}
		x.budgetHeaders = http.Header{"X-Budget-Alert-Level": {"unknown"}}
		return true
	}
	agentPct := percent(res.AgentSpentMicros, lim.AgentDailyMicros)
	platformPct := percent(res.PlatformSpentMicros, lim.PlatformMonthlyMicros)
	level := policy.AlertLevel(platformPct, dec.Budget.AlertThresholds)
	retry := strconv.FormatInt(int64(math.Ceil(res.RetryAfter(now).Seconds())), 10)
	switch res.Denied {
	case ledger.None:
		x.budgetHeaders = http.Header{
			"X-Budget-Alert-Level":   {level},
			"X-Platform-Utilization": {strconv.FormatFloat(platformPct, 'f', 2, 64)},
			"X-Agent-Utilization":    {strconv.FormatFloat(agentPct, 'f', 2, 64)},
		}
		return true
	case ledger.TrialLimit:
		x.decided("budget", "denied", "trial task limit")
		s.reject(w, r, x, httpx.NewProblem(httpx.SlugTrialLimitExceeded,
			fmt.Sprintf("Trial accounts may run %d tasks a day; the limit resets at %s.", lim.TrialTasksPerDay, res.ResetAt.UTC().Format(time.RFC3339))).
			With("task_count", res.TrialTasks).
			With("limit", lim.TrialTasksPerDay).
			With("reset_at", res.ResetAt.UTC().Format(time.RFC3339)).
			With("upgrade_url", s.cfg.UpgradeURL).
			WithHeader("Retry-After", retry))
		return false
	default:
		which := "The agent's daily budget"
		if res.Denied == ledger.PlatformBudget {
			which = "The platform's monthly budget"
		}
		x.decided("budget", "denied", string(res.Denied))
		s.reject(w, r, x, httpx.NewProblem(httpx.SlugBudgetExceeded,
			fmt.Sprintf("%s is spent; it resets at %s.", which, res.ResetAt.UTC().Format(time.RFC3339))).
			With("alert_level", level).
			With("agent_budget", budgetMember(lim.AgentDailyMicros, res.AgentSpentMicros)).
			With("platform_budget", budgetMember(lim.PlatformMonthlyMicros, res.PlatformSpentMicros)).
			WithHeader("Retry-After", retry))
		return false
	}
}

func (s *Server) failMode() string {
	if s.cfg.BudgetFailClosed {
		return "closed"
	}
	return "open"
}

func percent(spent, limit int64) float64 {
	if limit <= 0 {
		return 100
	}
	return float64(spent) * 100 / float64(limit)
}

func budgetMember(limit, spent int64) map[string]any {
	return map[string]any{
		"limit_usd":           usd(limit),
		"spent_usd":           usd(spent),
		"remaining_usd":       usd(max(0, limit-spent)),
		"utilization_percent": math.Round(percent(spent, limit)*100) / 100,
	}
}

func usd(micros int64) float64 { return float64(micros) / 1e6 }

// reject answers a request the gateway refuses, with the timings of the layers that ran.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, x *exchange, p *httpx.Problem) {
	w.Header().Set("Server-Timing", x.serverTiming())
	httpx.WriteProblem(w, r, p)
}

// rewriteUpstream sets the identity the backend may trust, after the proxy core has stripped
// whatever the client sent under those names.
func rewriteUpstream(pr *httputil.ProxyRequest) {
	x := exchangeFrom(pr.In.Context())
	if x == nil || x.claims == nil {
		return
	}
	h := pr.Out.Header
	h.Set("X-User-ID", x.claims.UserID)
	h.Set("X-User-Roles", strings.Join(x.claims.Roles, ","))
	if x.claims.CustomerID != "" {
		h.Set("X-Customer-ID", x.claims.CustomerID)
	}
	h.Set("X-Gateway-Type", x.gatewayType)
	h.Set("X-Target-Backend", x.target)
}

// modifyResponse stamps the forwarded response with the gateway's headers.
func modifyResponse(res *http.Response) error {
	x := exchangeFrom(res.Request.Context())
	if x == nil {
		return nil
	}
	x.timed(layerUpstream, x.upstreamStart)
	h := res.Header
	h.Set("Server-Timing", x.serverTiming())
	h.Set("X-Target-Backend", x.target)
	for k, v := range x.budgetHeaders {
		h[k] = v
	}
	return nil
}

// upstreamFailed wraps the proxy core's error handler to keep the timings and the audit's
// verdict right when the backend cannot be reached.
func upstreamFailed(next func(http.ResponseWriter, *http.Request, error)) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if x := exchangeFrom(r.Context()); x != nil {
			x.timed(layerUpstream, x.upstreamStart)
			reason := "upstream unreachable"
			if errors.Is(err, context.DeadlineExceeded) {
				reason = "upstream timeout"
			}
			x.decided("upstream", "error", reason)
			w.Header().Set("Server-Timing", x.serverTiming())
		}
		next(w, r, err)
	}
}
