package gateway

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/policy"
	"github.com/waooaw/waooaw/internal/token"
)

// Config is the gateway's validated configuration.
type Config struct {
	Addr        string   // ADDR, default :8000
	BackendURL  *url.URL // PLANT_BACKEND_URL
	SandboxURL  *url.URL // PLANT_SANDBOX_URL, optional: where trial users go
	RedisURL    string   // REDIS_URL
	RedisPrefix string   // REDIS_KEY_PREFIX, default waooaw:
	OPAURL      string   // OPA_URL
	DatabaseURL string   // DATABASE_URL, optional: the audit log; unset disables it

	Verifier *token.Verifier
	Keys     *token.KeySet // published at /.well-known/jwks.json

	// PortalSecret (PORTAL_SECRET) is the secret CP and PP prove themselves with (the
	// X-Waooaw-Portal-Secret header); only a request carrying it is recorded as the portal's.
	// Empty: every request is recorded as direct.
	PortalSecret string

	ApprovalURL string // APPROVAL_UI_URL: where Governor approval is asked for
	UpgradeURL  string // TRIAL_UPGRADE_URL: where trial users upgrade

	Limits           policy.Limits // BUDGET_* and TRIAL_TASKS_PER_DAY
	BudgetFailClosed bool          // BUDGET_FAIL_MODE=closed: Redis down → 503

	OPATimeout       time.Duration // OPA_TIMEOUT, default 2s
	UpstreamTimeout  time.Duration // UPSTREAM_TIMEOUT, default 30s
	DecisionCacheTTL time.Duration // DECISION_CACHE_TTL, default 1s; 0 disables the cache
	BodyLimit        int64         // BODY_LIMIT_BYTES, default 10 MiB
	CORSOrigins      []string      // CORS_ORIGINS
	Environment      string        // ENVIRONMENT; development serves /docs, /redoc, /openapi.json
	LogLevel         string        // LOG_LEVEL
	Version          string        // the build's version, for /health
}

// DefaultAddr is where the gateway listens unless ADDR says otherwise.
const DefaultAddr = ":8000"

// ConfigFromEnv reads and validates the gateway's environment; every error names its variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:        or(getenv("ADDR"), DefaultAddr),
		RedisURL:    getenv("REDIS_URL"),
		RedisPrefix: or(getenv("REDIS_KEY_PREFIX"), "waooaw:"),
		OPAURL:      getenv("OPA_URL"),
		DatabaseURL: getenv("DATABASE_URL"),
		ApprovalURL: or(getenv("APPROVAL_UI_URL"), "http://localhost:8006/governor/approvals"),
		UpgradeURL:  or(getenv("TRIAL_UPGRADE_URL"), "http://localhost:8015/upgrade"),
		Environment: or(getenv("ENVIRONMENT"), "development"),
		LogLevel:    getenv("LOG_LEVEL"),
	}
	var err error
	p := parser{getenv: getenv}
	c.BackendURL = p.url("PLANT_BACKEND_URL", true)
	c.SandboxURL = p.url("PLANT_SANDBOX_URL", false)
	if c.RedisURL == "" {
		p.fail("REDIS_URL must be set (redis://127.0.0.1:6379/0)")
	}
	if u := p.url("OPA_URL", true); u != nil {
		c.OPAURL = strings.TrimSuffix(u.String(), "/")
	}
	p.url("APPROVAL_UI_URL", false)
	p.url("TRIAL_UPGRADE_URL", false)
	c.Limits = policy.Limits{
		CostPerRequestMicros:  p.micros("BUDGET_COST_PER_REQUEST_USD", 0.001),
		AgentDailyMicros:      p.micros("BUDGET_AGENT_DAILY_USD", 1.00),
		PlatformMonthlyMicros: p.micros("BUDGET_PLATFORM_MONTHLY_USD", 100.00),
		TrialTasksPerDay:      p.count("TRIAL_TASKS_PER_DAY", 10),
	}
	switch mode := or(getenv("BUDGET_FAIL_MODE"), "open"); mode {
	case "open":
	case "closed":
		c.BudgetFailClosed = true
	default:
		p.fail(fmt.Sprintf("BUDGET_FAIL_MODE must be open or closed, got %q", mode))
	}
	c.PortalSecret = getenv("PORTAL_SECRET")
	if err := httpx.CheckPortalSecret(c.PortalSecret); err != nil {
		p.fail(err.Error())
	}
	c.OPATimeout = p.duration("OPA_TIMEOUT", policy.DefaultTimeout)
	c.UpstreamTimeout = p.duration("UPSTREAM_TIMEOUT", 30*time.Second)
	c.DecisionCacheTTL = p.duration("DECISION_CACHE_TTL", policy.DefaultCacheTTL)
	c.BodyLimit = p.count("BODY_LIMIT_BYTES", httpx.DefaultBodyLimit)
	if c.CORSOrigins, err = httpx.ParseOrigins(getenv("CORS_ORIGINS")); err != nil {
		p.fail(err.Error())
	}
	if p.err != nil {
		return c, p.err
	}
	if c.Verifier, c.Keys, err = token.VerifierFromEnv(getenv); err != nil {
		return c, err
	}
	return c, nil
}

// parser keeps the first configuration error, so ConfigFromEnv reads straight through.
type parser struct {
	getenv func(string) string
	err    error
}

func (p *parser) fail(msg string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s", msg)
	}
}

func (p *parser) url(name string, required bool) *url.URL {
	s := p.getenv(name)
	if s == "" {
		if required {
			p.fail(name + " must be set (an http:// URL)")
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(fmt.Sprintf("%s must be an http:// or https:// URL, got %q", name, s))
		return nil
	}
	return u
}

func (p *parser) micros(name string, def float64) int64 {
	s := p.getenv(name)
	if s == "" {
		return int64(math.Round(def * 1e6))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e9 || math.IsNaN(f) {
		p.fail(fmt.Sprintf("%s must be an amount in USD such as 1.00, got %q", name, s))
		return 0
	}
	return int64(math.Round(f * 1e6))
}

func (p *parser) count(name string, def int64) int64 {
	s := p.getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		p.fail(fmt.Sprintf("%s must be a positive whole number, got %q", name, s))
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	s := p.getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.fail(fmt.Sprintf("%s must be a duration such as 2s, got %q", name, s))
		return def
	}
	return d
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
