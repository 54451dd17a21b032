package policy

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/loader"
	"github.com/open-policy-agent/opa/v1/logging"
	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/server"
	"github.com/open-policy-agent/opa/v1/server/types"
	"github.com/open-policy-agent/opa/v1/server/writer"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// shutdownGrace bounds how long in-flight requests may run on after the server is told to stop.
const shutdownGrace = 5 * time.Second

// ServerConfig configures the embedded OPA server.
type ServerConfig struct {
	// Addr is the address to listen on, e.g. "127.0.0.1:8181" or ":8181"; port 0 picks one.
	Addr string
	// Logger receives the server's own messages and OPA's warnings and errors; nil discards them.
	Logger *slog.Logger
	// ManagementToken is the bearer token that OPA's management API requires: policy and data
	// reads and writes, queries, compile, config, status. Without one nobody may use it, and the
	// server answers only /health and the gateway's decision (see AuthzModule).
	ManagementToken string
	// Hosts are host names, besides localhost and IP addresses, that clients may name in the
	// Host header (e.g. the service's name on a container network). Any other name is refused
	// with 421, so that a web page that rebinds its own DNS name to 127.0.0.1 cannot reach OPA.
	Hosts []string
}

// AuthzModulePath is the name the system.authz policy is loaded under.
const AuthzModulePath = "authz/system_authz.rego"

//go:embed authz/system_authz.rego
var authzTemplate string

const tokenHashPlaceholder = "MANAGEMENT_TOKEN_SHA256"

// AuthzModule returns the system.authz policy that OPA's basic authorization asks about every
// request: anyone may GET /health and POST the gateway's decision query (no query parameters);
// everything else needs managementToken as a bearer token. The policy holds only the token's
// SHA-256; with an empty token nobody may do anything else. The Docker runtime gives this module
// to the official OPA image, run with --authentication=token --authorization=basic.
func AuthzModule(managementToken string) string {
	hash := ""
	if managementToken != "" {
		sum := sha256.Sum256([]byte(managementToken))
		hash = hex.EncodeToString(sum[:])
	}
	if !strings.Contains(authzTemplate, tokenHashPlaceholder) {
		panic("policy: the system.authz template lost its token placeholder")
	}
	return strings.Replace(authzTemplate, tokenHashPlaceholder, hash, 1)
}

// Server is OPA's own REST server (the handler `opa run --server` serves) with the embedded
// policies loaded, bound to its address but not yet serving.
type Server struct {
	listener net.Listener
	http     *http.Server
	opa      *server.Server
	manager  *plugins.Manager
	logger   *slog.Logger
}

// Serve runs the embedded OPA server on cfg.Addr until ctx is done, then shuts it down. It
// fails at once if the policies do not compile or the address cannot be bound.
func Serve(ctx context.Context, cfg ServerConfig) error {
	s, err := Listen(ctx, cfg)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Listen loads the embedded policies into a new OPA server and binds cfg.Addr. The caller must
// call Serve, which also releases what Listen set up.
func Listen(ctx context.Context, cfg ServerConfig) (*Server, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// OPA narrates its own workings at info and debug; only its warnings and errors belong in
	// the service's log stream.
	opaLogger := logging.NewLoggerFromSlogHandler(logger.Handler(), logging.Warn)

	loaded, err := loader.NewFileLoader().
		WithFS(Files()).
		WithRegoVersion(ast.RegoV1).
		Filtered([]string{"."}, func(_ string, info fs.FileInfo, _ int) bool {
			return !info.IsDir() && !isPolicyModule(info.Name())
		})
	if err != nil {
		return nil, fmt.Errorf("load embedded policies: %w", err)
	}
	policies := len(loaded.Modules)
	authz := AuthzModule(cfg.ManagementToken)
	parsed, err := ast.ParseModuleWithOpts(AuthzModulePath, authz, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("parse the system.authz policy: %w", err)
	}
	loaded.Modules[AuthzModulePath] = &loader.RegoFile{Name: AuthzModulePath, Parsed: parsed, Raw: []byte(authz)}

	store := inmem.New()
	manager, err := plugins.New(nil, "waooaw-opa", store,
		plugins.Logger(opaLogger),
		plugins.ConsoleLogger(opaLogger),
		plugins.InitFiles(*loaded),
		plugins.WithParserOptions(ast.ParserOptions{RegoVersion: ast.RegoV1}),
		plugins.WithEnableVersionCheck(false),
	)
	if err != nil {
		return nil, fmt.Errorf("create OPA plugin manager: %w", err)
	}
	opa, err := startOPA(ctx, manager)
	if err != nil {
		manager.Stop(ctx)
		return nil, err
	}

	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		_ = opa.Shutdown(ctx)
		manager.Stop(ctx)
		return nil, fmt.Errorf("OPA server: listen on %s: %w", cfg.Addr, err)
	}
	port := listener.Addr().(*net.TCPAddr).Port
	logger.Info("policy server listening", "addr", listener.Addr().String(), "policies", policies,
		"management", cfg.ManagementToken != "")

	return &Server{
		listener: listener,
		opa:      opa,
		manager:  manager,
		logger:   logger,
		http: &http.Server{
			Handler:           checkHost(opa.Handler, port, cfg.Hosts),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
	}, nil
}

// startOPA compiles the policies and builds OPA's HTTP handler over them.
func startOPA(ctx context.Context, manager *plugins.Manager) (*server.Server, error) {
	if err := manager.Init(ctx); err != nil {
		return nil, fmt.Errorf("compile embedded policies: %w", err)
	}
	if err := manager.Start(ctx); err != nil {
		return nil, fmt.Errorf("start OPA plugins: %w", err)
	}
	// What `opa run --authentication=token --authorization=basic` does: the bearer token
	// becomes input.identity, and data.system.authz.allow decides every request.
	opa, err := server.New().
		WithAuthentication(server.AuthenticationToken).
		WithAuthorization(server.AuthorizationBasic).
		WithStore(manager.Store).
		WithManager(manager).
		Init(ctx)
	if err != nil {
		return nil, fmt.Errorf("initialise OPA server: %w", err)
	}
	manager.ServerInitialized()
	return opa, nil
}

// checkHost refuses, with 421 Misdirected Request, a request whose Host header names neither
// localhost, an IP address, nor one of hosts, or names another port. A DNS-rebinding page sends
// its own domain name, so it is refused before OPA sees the request; a client that dials an
// address names it.
func checkHost(next http.Handler, port int, hosts []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostAllowed(r.Host, port, hosts) {
			writer.Error(w, http.StatusMisdirectedRequest, types.NewErrorV1(types.CodeInvalidParameter,
				"host %q is not served here: use 127.0.0.1:%d or localhost:%d", r.Host, port, port))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hostAllowed(hostPort string, port int, hosts []string) bool {
	host, p, err := net.SplitHostPort(hostPort)
	if err != nil || p != strconv.Itoa(port) {
		return false
	}
	return net.ParseIP(host) != nil || strings.EqualFold(host, "localhost") ||
		slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(h, host) })
}

// Addr is the address the server is bound to, with the port chosen when Addr asked for 0.
func (s *Server) Addr() string {
	return s.listener.Addr().String()
}

// URL is the base URL a Client on this host reaches the server at.
func (s *Server) URL() string {
	addr := s.listener.Addr().(*net.TCPAddr)
	host := "127.0.0.1"
	if !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("http://%s:%d", host, addr.Port)
}

// Serve answers requests until ctx is done, then stops accepting, lets in-flight requests
// finish (bounded by shutdownGrace) and releases the server.
func (s *Server) Serve(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.listener) }()

	var err error
	select {
	case err = <-served:
		err = fmt.Errorf("OPA server on %s: %w", s.Addr(), err)
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if serr := s.http.Shutdown(shutdownCtx); serr != nil {
			err = fmt.Errorf("shut down OPA server on %s: %w", s.Addr(), serr)
		}
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	cleanupCtx := context.WithoutCancel(ctx)
	_ = s.opa.Shutdown(cleanupCtx)
	s.manager.Stop(cleanupCtx)
	s.logger.Info("policy server stopped", "addr", s.Addr())
	return err
}
