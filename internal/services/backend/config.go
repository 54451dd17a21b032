package backend

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/token"
)

// Config is the backend's validated configuration.
type Config struct {
	Addr        string        // ADDR, default :8001
	DatabaseURL string        // DATABASE_URL, postgres://…
	Environment string        // ENVIRONMENT; "development" serves /docs
	LogLevel    string        // LOG_LEVEL
	BodyLimit   int64         // BODY_LIMIT_BYTES, default 1 MiB
	DBWait      time.Duration // DB_WAIT: how long start-up waits for the database, default 30s
	Verifier    *token.Verifier
}

// DefaultAddr is where the backend listens unless ADDR says otherwise.
const DefaultAddr = ":8001"

// ConfigFromEnv reads and validates the backend's environment. Every error names the variable.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		Addr:        getenv("ADDR"),
		DatabaseURL: getenv("DATABASE_URL"),
		Environment: getenv("ENVIRONMENT"),
		LogLevel:    getenv("LOG_LEVEL"),
		BodyLimit:   1 << 20,
		DBWait:      30 * time.Second,
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Environment == "" {
		cfg.Environment = "development"
	}
	if err := ValidateDatabaseURL(cfg.DatabaseURL); err != nil {
		return cfg, err
	}
	if s := getenv("BODY_LIMIT_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return cfg, fmt.Errorf("BODY_LIMIT_BYTES must be a positive number of bytes, got %q", s)
		}
		cfg.BodyLimit = n
	}
	if s := getenv("DB_WAIT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return cfg, fmt.Errorf("DB_WAIT must be a duration such as 30s, got %q", s)
		}
		cfg.DBWait = d
	}
	v, _, err := token.VerifierFromEnv(getenv)
	if err != nil {
		return cfg, err
	}
	cfg.Verifier = v
	if cfg.BodyLimit > httpx.DefaultBodyLimit {
		return cfg, fmt.Errorf("BODY_LIMIT_BYTES must be at most %d", httpx.DefaultBodyLimit)
	}
	return cfg, nil
}

// ValidateDatabaseURL checks that DATABASE_URL is a postgres:// URL; the message never repeats the
// URL, since it may hold a password.
func ValidateDatabaseURL(s string) error {
	if s == "" {
		return fmt.Errorf("DATABASE_URL must be set (postgres://user:password@host:5432/waooaw)")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return fmt.Errorf("DATABASE_URL must be a URL of the form postgres://user:password@host:5432/database")
	}
	if strings.Trim(u.Path, "/") == "" {
		return fmt.Errorf("DATABASE_URL must name a database (postgres://…/waooaw)")
	}
	return nil
}
