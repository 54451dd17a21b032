package portal

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/waooaw/waooaw/internal/buildinfo"
	"github.com/waooaw/waooaw/internal/httpx"
)

// Config is one portal proxy's validated configuration.
type Config struct {
	Name        string   // "cp" or "pp"
	Addr        string   // ADDR; default ":8015" for cp, ":8006" for pp
	GatewayURL  *url.URL // PLANT_GATEWAY_URL, required
	CORSOrigins []string // CORS_ORIGINS, comma-separated; default none
	LogLevel    string   // LOG_LEVEL
	Version     string   // the build version /health and /api report
	// PortalSecret (PORTAL_SECRET) is sent to the gateway with every request, so the gateway
	// can tell the portal's requests from a client's claim to be the portal. Empty: none is
	// sent, and the gateway records the portal's requests as direct.
	PortalSecret string
}

// defaultAddr is where the portal called name listens unless ADDR says otherwise (SPEC §1).
func defaultAddr(name string) (string, bool) {
	switch name {
	case "cp":
		return ":8015", true
	case "pp":
		return ":8006", true
	}
	return "", false
}

// ConfigFromEnv reads and validates the environment of the portal called name ("cp" or "pp").
// Every error names the variable to fix. Version starts as the binary's build version.
func ConfigFromEnv(name string, getenv func(string) string) (Config, error) {
	addr, ok := defaultAddr(name)
	if !ok {
		return Config{}, fmt.Errorf("portal %q is not one of cp, pp", name)
	}
	cfg := Config{Name: name, Addr: addr, LogLevel: getenv("LOG_LEVEL"), Version: buildinfo.Version}
	if v := getenv("ADDR"); v != "" {
		cfg.Addr = v
	}
	u, err := parseGatewayURL(getenv("PLANT_GATEWAY_URL"))
	if err != nil {
		return cfg, err
	}
	cfg.GatewayURL = u
	if cfg.CORSOrigins, err = httpx.ParseOrigins(getenv("CORS_ORIGINS")); err != nil {
		return cfg, err
	}
	cfg.PortalSecret = getenv("PORTAL_SECRET")
	if err := httpx.CheckPortalSecret(cfg.PortalSecret); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// parseGatewayURL checks PLANT_GATEWAY_URL. A value that does not parse is not repeated: it may
// hold credentials.
func parseGatewayURL(s string) (*url.URL, error) {
	const example = "http://localhost:8090"
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("PLANT_GATEWAY_URL must be set to the Plant Gateway's URL, e.g. %s", example)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("PLANT_GATEWAY_URL is not a valid URL (e.g. %s)", example)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("PLANT_GATEWAY_URL must be an http:// or https:// URL with a host and no query, e.g. %s; got %q",
			example, u.Redacted())
	}
	return u, nil
}

// Service is the portal's service name in health answers, logs and metrics.
func (c Config) Service() string { return c.Name + "-proxy" }

// GatewayType is the X-Gateway-Type the portal marks its requests with.
func (c Config) GatewayType() string { return strings.ToUpper(c.Name) }
