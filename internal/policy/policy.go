// Package policy owns the Plant Gateway's Rego policies (embedded, with their Rego unit tests),
// the documents exchanged with Open Policy Agent, the OPA REST client the gateway uses, and an
// embedded OPA server that answers the same REST API as the official image.
//
// OPA decides who may do what and which limits apply: one decision document per request answers
// RBAC, Governor approval, sandbox routing, trial expiry, the trial task limit and the budget caps.
// The gateway enforces its counters against those limits itself.
package policy

import (
	"embed"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
)

// DecisionPath is the data path the gateway queries.
const DecisionPath = "/v1/data/waooaw/gateway/decision"

// The layers a decision may be denied by, in the order the policy checks them.
const (
	LayerNone     = ""
	LayerRBAC     = "rbac"
	LayerTrial    = "trial"
	LayerGovernor = "governor"
)

// The backends a request may be routed to.
const (
	TargetProduction = "production"
	TargetSandbox    = "sandbox"
)

// AlertNormal is the alert level below every threshold.
const AlertNormal = "normal"

//go:embed rego
var regoFiles embed.FS

// Files returns the policy tree, Rego unit tests included, rooted at the directory that holds
// it: what the official OPA image loads with `opa run --server <dir>`.
func Files() fs.FS {
	sub, err := fs.Sub(regoFiles, "rego")
	if err != nil {
		// fs.Sub fails only on an invalid path name, and "rego" is a valid one.
		panic(err)
	}
	return sub
}

// Modules returns the source of every policy module (tests left out), keyed by file name.
func Modules() (map[string]string, error) {
	modules := map[string]string{}
	err := fs.WalkDir(Files(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isPolicyModule(path) {
			return nil
		}
		src, err := fs.ReadFile(Files(), path)
		if err != nil {
			return err
		}
		modules[path] = string(src)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded policies: %w", err)
	}
	return modules, nil
}

func isPolicyModule(path string) bool {
	return strings.HasSuffix(path, ".rego") && !strings.HasSuffix(path, "_test.rego")
}

// Input is the document the gateway sends to OPA for one request.
type Input struct {
	Method     string `json:"method"`
	Permission string `json:"permission"`
	Resource   string `json:"resource"`
	Action     string `json:"action"`
	User       User   `json:"user"`
	Trial      Trial  `json:"trial"`
	// SandboxConfigured says whether the gateway has a sandbox backend (PLANT_SANDBOX_URL).
	SandboxConfigured bool   `json:"sandbox_configured"`
	Limits            Limits `json:"limits"`
}

// User is the caller, as its token describes it.
type User struct {
	ID              string   `json:"id"`
	Roles           []string `json:"roles"`
	CustomerID      string   `json:"customer_id"`
	GovernorAgentID string   `json:"governor_agent_id"`
	AgentID         string   `json:"agent_id"`
}

// Trial is the caller's trial, if any. ExpiresAt is RFC 3339, empty when not a trial.
type Trial struct {
	Mode      bool   `json:"mode"`
	ExpiresAt string `json:"expires_at"`
}

// Limits are the gateway's configured caps, money in integer micro-dollars.
type Limits struct {
	CostPerRequestMicros  int64 `json:"cost_per_request_micros"`
	AgentDailyMicros      int64 `json:"agent_daily_micros"`
	PlatformMonthlyMicros int64 `json:"platform_monthly_micros"`
	TrialTasksPerDay      int64 `json:"trial_tasks_per_day"`
}

// CacheKey identifies the decision for in: two inputs with the same key get the same decision
// at the same instant. It holds exactly the fields the policy reads (a test keeps it so), which
// leaves out the user's id, customer and agent, so one cached decision serves every caller with
// the same roles. Trial expiry depends on the clock, so cached decisions must live briefly.
func (in Input) CacheKey() string {
	b := make([]byte, 0, 160)
	b = strconv.AppendQuote(b, in.Method)
	b = strconv.AppendQuote(b, in.Permission)
	b = append(b, '[')
	for _, role := range in.User.Roles {
		b = strconv.AppendQuote(b, role)
	}
	b = append(b, ']')
	b = strconv.AppendQuote(b, in.User.GovernorAgentID)
	b = strconv.AppendBool(b, in.Trial.Mode)
	b = strconv.AppendQuote(b, in.Trial.ExpiresAt)
	b = strconv.AppendBool(b, in.SandboxConfigured)
	for _, n := range [...]int64{
		in.Limits.CostPerRequestMicros,
		in.Limits.AgentDailyMicros,
		in.Limits.PlatformMonthlyMicros,
		in.Limits.TrialTasksPerDay,
	} {
		b = append(b, ' ')
		b = strconv.AppendInt(b, n, 10)
	}
	return string(b)
}

// Decision is OPA's answer for one request (data.waooaw.gateway.decision).
type Decision struct {
	// Allow is true only when no layer denies; a Governor redirect is not an allow.
	Allow    bool          `json:"allow"`
	Deny     Deny          `json:"deny"`
	RBAC     RBAC          `json:"rbac"`
	Governor Governor      `json:"governor"`
	Trial    TrialDecision `json:"trial"`
	// Target is TargetSandbox or TargetProduction.
	Target string `json:"target"`
	Budget Budget `json:"budget"`
}

// Deny names the first layer that refuses the request; all empty when none does. The governor
// layer has no slug: the gateway answers it with a redirect, not a problem.
type Deny struct {
	Layer  string `json:"layer"`
	Slug   string `json:"slug"`
	Reason string `json:"reason"`
}

// RBAC is the role check of the request's permission.
type RBAC struct {
	Allowed            bool   `json:"allowed"`
	RequiredPermission string `json:"required_permission"`
	// AllowedRoles are the roles that would be allowed, sorted, admin included.
	AllowedRoles []string `json:"allowed_roles"`
}

// Governor says whether the request needs a Governor and whether the caller is one.
type Governor struct {
	Required bool `json:"required"`
	Approved bool `json:"approved"`
}

// TrialDecision is the trial part of a decision.
type TrialDecision struct {
	Mode    bool `json:"mode"`
	Expired bool `json:"expired"`
	// CountsAsTask is true for a trial user's requests that may change something (not
	// GET, HEAD or OPTIONS); the gateway counts them against TasksPerDay.
	CountsAsTask bool  `json:"counts_as_task"`
	TasksPerDay  int64 `json:"tasks_per_day"`
}

// Budget holds the caps the gateway counts spending against, in micro-dollars.
type Budget struct {
	CostMicros            int64       `json:"cost_micros"`
	AgentDailyMicros      int64       `json:"agent_daily_micros"`
	PlatformMonthlyMicros int64       `json:"platform_monthly_micros"`
	AlertThresholds       []Threshold `json:"alert_thresholds"`
}

// Threshold is the utilisation, in percent, from which an alert level applies.
type Threshold struct {
	Level   string  `json:"level"`
	Percent float64 `json:"percent"`
}

// AlertLevel returns the level of the highest threshold that percent reaches, or AlertNormal.
// It is the Go twin of the policy's alert_level rule, which the tests keep in agreement.
func AlertLevel(percent float64, thresholds []Threshold) string {
	level, reached := AlertNormal, math.Inf(-1)
	for _, t := range thresholds {
		if percent >= t.Percent && t.Percent > reached {
			level, reached = t.Level, t.Percent
		}
	}
	return level
}
