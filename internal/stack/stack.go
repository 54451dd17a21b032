// Package stack owns the WAOOAW stack as data — the seven services, their ports, environment,
// dependencies and readiness probes (SPEC §1) — the per-project state on disk, the Runtime
// interface the local and Docker runtimes implement, and the engine that starts services in
// dependency order and waits for each to be ready, reporting progress as typed events.
package stack

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The services' names, as the CLI, the logs and the runtimes spell them.
const (
	Postgres = "postgres"
	Redis    = "redis"
	OPA      = "opa"
	Backend  = "backend"
	Gateway  = "gateway"
	CP       = "cp"
	PP       = "pp"
)

// Names lists the services in start order (every service after those it depends on).
var names = []string{Postgres, Redis, OPA, Backend, Gateway, CP, PP}

// Names returns the services' names in start order.
func Names() []string { return slices.Clone(names) }

// The stack's database. DatabaseUser is the application role the services connect as: it owns
// DatabaseName and is not a superuser. DatabaseSuperuser is the cluster's bootstrap superuser,
// which only provisions the application role. Their passwords are the project's secrets.
const (
	DatabaseName      = "waooaw"
	DatabaseUser      = "waooaw"
	DatabaseSuperuser = "postgres"
)

// The bootstrap superuser and its fixed password in data made by waooaw before per-project
// secrets: `up` finds them, renames the role to DatabaseSuperuser, gives it its secret password
// and hands the database to a new, unprivileged DatabaseUser.
const (
	LegacyDatabaseSuperuser = "waooaw"
	LegacyDatabasePassword  = "waooaw"
)

// Masked stands for a password in URLs shown to people.
const Masked = "****"

// Service is one service of the stack as a runtime needs it.
type Service struct {
	Name string
	// Embedded is true for the services waooaw itself serves (`waooaw serve <Name>`); the
	// others (postgres, redis, and opa on Docker) run a third-party program or image.
	Embedded bool
	// HostPort is where the service listens on the host (127.0.0.1), after the port offset.
	HostPort int
	// ContainerPort is the port inside a container (SPEC §1).
	ContainerPort int
	// DependsOn names the services that must be ready before this one starts.
	DependsOn []string
	// Env is the service's environment, resolved for one runtime's network (see Network).
	Env map[string]string
	// Probe tells from the host whether the service is ready.
	Probe Probe
	// Password is the one the service's URL carries (PostgreSQL's application role, Redis);
	// empty for the others.
	Password string
}

// URL is how a person or a client on the host reaches the service, password included.
func (s Service) URL() string {
	return serviceURL(s.Name, net.JoinHostPort(Host, strconv.Itoa(s.HostPort)), s.Password)
}

// DisplayURL is URL with the password masked, for output people read and may paste.
func (s Service) DisplayURL() string {
	hostPort := net.JoinHostPort(Host, strconv.Itoa(s.HostPort))
	if s.Password == "" {
		return serviceURL(s.Name, hostPort, "")
	}
	// Written in after escaping, which would turn the asterisks into %2A.
	const stand = "password"
	return strings.Replace(serviceURL(s.Name, hostPort, stand), ":"+stand+"@", ":"+Masked+"@", 1)
}

// serviceURL is the URL of the service called name at hostPort, with password when not empty.
func serviceURL(name, hostPort, password string) string {
	switch name {
	case Postgres:
		u := url.URL{Scheme: "postgres", User: url.User(DatabaseUser), Host: hostPort, Path: "/" + DatabaseName}
		if password != "" {
			u.User = url.UserPassword(DatabaseUser, password)
		}
		return u.String()
	case Redis:
		u := url.URL{Scheme: "redis", Host: hostPort}
		if password != "" {
			u.User = url.UserPassword("", password)
		}
		return u.String()
	}
	return "http://" + hostPort
}

// Host is the address every host port binds to.
const Host = "127.0.0.1"

// basePorts are the host and container ports of SPEC §1.
var basePorts = map[string][2]int{
	Postgres: {5432, 5432},
	Redis:    {6379, 6379},
	OPA:      {8181, 8181},
	Backend:  {8091, 8001},
	Gateway:  {8090, 8000},
	CP:       {8015, 8015},
	PP:       {8006, 8006},
}

// Network says how one service reaches another: on the local runtime through the host ports,
// on Docker through the project network's DNS names and container ports.
type Network interface {
	// Addr returns the host:port at which the named service is reached from another service.
	Addr(s Service) string
	// Listen returns the address a service listens on inside its process or container.
	Listen(s Service) string
}

// LocalNetwork is the local runtime's network: everything on 127.0.0.1 host ports.
type LocalNetwork struct{}

// Addr implements Network.
func (LocalNetwork) Addr(s Service) string { return net.JoinHostPort(Host, strconv.Itoa(s.HostPort)) }

// Listen implements Network.
func (LocalNetwork) Listen(s Service) string { return net.JoinHostPort(Host, strconv.Itoa(s.HostPort)) }

// Config is what a stack is built from.
type Config struct {
	PortOffset int
	// PublicKey is the public key the backend and gateway verify tokens with: PEM text, or
	// the path of a PEM file as the services see it (containers get the text).
	PublicKey string
	Network   Network
	// Secrets are the project's passwords; the URLs and probes carry them.
	Secrets Secrets
}

// MaxPortOffset keeps every shifted port below 65536.
const MaxPortOffset = 65535 - 8181

// Services returns the seven services for cfg, in start order.
func Services(cfg Config) ([]Service, error) {
	if cfg.PortOffset < 0 || cfg.PortOffset > MaxPortOffset {
		return nil, fmt.Errorf("port offset %d is out of range: use 0 to %d", cfg.PortOffset, MaxPortOffset)
	}
	if cfg.Network == nil {
		cfg.Network = LocalNetwork{}
	}
	svcs := make([]Service, 0, len(names))
	byName := map[string]Service{}
	for _, name := range names {
		p := basePorts[name]
		s := Service{Name: name, HostPort: p[0] + cfg.PortOffset, ContainerPort: p[1]}
		switch name {
		case Postgres:
			s.Password = cfg.Secrets.PostgresPassword
		case Redis:
			s.Password = cfg.Secrets.RedisPassword
		}
		byName[name] = s
		svcs = append(svcs, s)
	}
	url := func(name string) string { return "http://" + cfg.Network.Addr(byName[name]) }
	dbURL := serviceURL(Postgres, cfg.Network.Addr(byName[Postgres]), cfg.Secrets.PostgresPassword) + "?sslmode=disable"
	for i := range svcs {
		s := &svcs[i]
		listen := cfg.Network.Listen(*s)
		switch s.Name {
		case Postgres:
			s.Probe = PostgresProbe{URL: s.URL() + "?sslmode=disable"}
		case Redis:
			s.Probe = RedisProbe{Addr: net.JoinHostPort(Host, strconv.Itoa(s.HostPort)), Password: cfg.Secrets.RedisPassword}
		case OPA:
			s.Embedded = true
			s.Env = map[string]string{"ADDR": listen}
			s.Probe = HTTPProbe{URL: s.URL() + "/health"}
		case Backend:
			s.Embedded = true
			s.DependsOn = []string{Postgres}
			s.Env = map[string]string{
				"ADDR":           listen,
				"DATABASE_URL":   dbURL,
				"JWT_PUBLIC_KEY": cfg.PublicKey,
				"ENVIRONMENT":    "development",
			}
			s.Probe = HTTPProbe{URL: s.URL() + "/health"}
		case Gateway:
			s.Embedded = true
			s.DependsOn = []string{Backend, Redis, OPA, Postgres}
			s.Env = map[string]string{
				"ADDR":              listen,
				"PLANT_BACKEND_URL": url(Backend),
				"REDIS_URL":         serviceURL(Redis, cfg.Network.Addr(byName[Redis]), cfg.Secrets.RedisPassword),
				"OPA_URL":           url(OPA),
				"DATABASE_URL":      dbURL,
				"JWT_PUBLIC_KEY":    cfg.PublicKey,
				"ENVIRONMENT":       "development",
				// Redirects are followed by the user's browser, so they name host ports.
				"APPROVAL_UI_URL":   byName[PP].URL() + "/governor/approvals",
				"TRIAL_UPGRADE_URL": byName[CP].URL() + "/upgrade",
			}
			s.Probe = HTTPProbe{URL: s.URL() + "/health"}
		case CP, PP:
			s.Embedded = true
			s.DependsOn = []string{Gateway}
			s.Env = map[string]string{"ADDR": listen, "PLANT_GATEWAY_URL": url(Gateway)}
			s.Probe = HTTPProbe{URL: s.URL() + "/health"}
		}
		if cfg.Secrets.PortalSecret != "" && (s.Name == Gateway || s.Name == CP || s.Name == PP) {
			// The portals prove themselves to the gateway with it, so the audit can trust
			// which portal a request came through.
			s.Env["PORTAL_SECRET"] = cfg.Secrets.PortalSecret
		}
	}
	return svcs, nil
}

// Select returns the services named (all when names is empty), in start order, or an error
// naming an unknown one.
func Select(svcs []Service, want []string) ([]Service, error) {
	if len(want) == 0 {
		return svcs, nil
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			return nil, fmt.Errorf("unknown service %q: the services are %v", w, names)
		}
	}
	var out []Service
	for _, s := range svcs {
		if slices.Contains(want, s.Name) {
			out = append(out, s)
		}
	}
	return out, nil
}
