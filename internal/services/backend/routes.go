package backend

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/services/access"
	"github.com/waooaw/waooaw/internal/services/apidoc"
	"github.com/waooaw/waooaw/internal/services/identity"
)

// routes is the backend's whole HTTP surface in one place. The API operations come from the API
// document, as the gateway's do, so each is guarded by the permission the gateway enforces and no
// operation exists here that the document (and so the gateway's allow-list) does not know.
func (s *Server) routes() (http.Handler, error) {
	r := chi.NewRouter()
	r.NotFound(httpx.NotFoundHandler().ServeHTTP)
	r.MethodNotAllowed(httpx.MethodNotAllowedHandler().ServeHTTP)
	r.Use(httpx.Recover(s.logger), httpx.Correlation, httpx.AccessLog(s.logger, s.metrics))

	r.Method(http.MethodGet, "/health", s.handleHealth())
	r.Method(http.MethodGet, "/healthz", httpx.Healthz())
	r.Method(http.MethodGet, "/metrics", s.metrics.Handler())
	r.Method(http.MethodGet, "/openapi.json", apidoc.Handler())
	if s.cfg.Environment == "development" {
		r.Method(http.MethodGet, "/docs", s.docs)
	}

	l, st := s.logger, s.store
	handlers := map[string]http.Handler{
		"GET /api/v1/industries":                            handleListIndustries(l, st),
		"GET /api/v1/agents":                                handleListAgents(l, st),
		"POST /api/v1/agents":                               handleCreateAgent(l, st),
		"GET /api/v1/agents/{id}":                           handleGetAgent(l, st),
		"DELETE /api/v1/agents/{id}":                        handleDeleteAgent(l, st),
		"GET /api/v1/customers":                             handleListCustomers(l, st),
		"POST /api/v1/customers":                            handleCreateCustomer(l, st),
		"GET /api/v1/customers/{id}":                        handleGetCustomer(l, st),
		"POST /api/v1/customers/{id}/subscription":          handleCreateSubscription(l, st),
		"GET /api/v1/customers/{id}/subscriptions":          handleListSubscriptions(l, st),
		"DELETE /api/v1/customers/{id}/subscriptions/{sid}": handleCancelSubscription(l, st),
		"POST /api/v1/trials":                               handleCreateTrial(l, st),
		"GET /api/v1/trials":                                handleListTrials(l, st),
		"GET /api/v1/trials/{id}":                           handleGetTrial(l, st),
		"PATCH /api/v1/trials/{id}":                         handleUpdateTrial(l, st),
	}
	ops, err := apidoc.Routes()
	if err != nil {
		return nil, err
	}
	api := r.With(httpx.LimitBody(s.cfg.BodyLimit), identity.Authenticate(s.cfg.Verifier))
	for _, op := range ops {
		if op.Permission == "" || !strings.HasPrefix(op.Path, "/api/") {
			continue
		}
		key := op.Method + " " + op.Path
		h, ok := handlers[key]
		if !ok {
			return nil, fmt.Errorf("backend: the API document lists %s, which has no handler", key)
		}
		delete(handlers, key)
		h = access.Authorize(s.decider, op, s.logger)(h)
		api.Method(op.Method, op.Path, h)
		if op.Method == http.MethodGet {
			// RFC 9110 §9.3.2: HEAD is GET without the body; net/http drops the body.
			api.Method(http.MethodHead, op.Path, h)
		}
	}
	for key := range handlers {
		return nil, fmt.Errorf("backend: handler for %s is not in the API document, so no permission guards it", key)
	}
	// Every other /api path needs a token too, so an anonymous caller cannot map the API by its 404s.
	r.With(identity.Authenticate(s.cfg.Verifier)).Handle("/api/*", httpx.NotFoundHandler())
	return r, nil
}
