package backend

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/waooaw/waooaw/internal/httpx"
	"github.com/waooaw/waooaw/internal/services/apidoc"
	"github.com/waooaw/waooaw/internal/services/identity"
)

// routes is the backend's whole HTTP surface in one place.
func (s *Server) routes() http.Handler {
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

	api := func(r chi.Router) {
		r.Use(httpx.LimitBody(s.cfg.BodyLimit), identity.Authenticate(s.cfg.Verifier))
		l, st := s.logger, s.store
		r.Method(http.MethodGet, "/industries", handleListIndustries(l, st))
		r.Method(http.MethodGet, "/agents", handleListAgents(l, st))
		r.Method(http.MethodPost, "/agents", handleCreateAgent(l, st))
		r.Method(http.MethodGet, "/agents/{id}", handleGetAgent(l, st))
		r.Method(http.MethodDelete, "/agents/{id}", handleDeleteAgent(l, st))
		r.Method(http.MethodGet, "/customers", handleListCustomers(l, st))
		r.Method(http.MethodPost, "/customers", handleCreateCustomer(l, st))
		r.Method(http.MethodGet, "/customers/{id}", handleGetCustomer(l, st))
		r.Method(http.MethodPost, "/customers/{id}/subscription", handleCreateSubscription(l, st))
		r.Method(http.MethodGet, "/customers/{id}/subscriptions", handleListSubscriptions(l, st))
		r.Method(http.MethodDelete, "/customers/{id}/subscriptions/{sid}", handleCancelSubscription(l, st))
		r.Method(http.MethodPost, "/trials", handleCreateTrial(l, st))
		r.Method(http.MethodGet, "/trials", handleListTrials(l, st))
		r.Method(http.MethodGet, "/trials/{id}", handleGetTrial(l, st))
		r.Method(http.MethodPatch, "/trials/{id}", handleUpdateTrial(l, st))
	}
	r.Route("/api/v1", api)
	// Every other /api path needs a token too, so an anonymous caller cannot map the API by its 404s.
	r.With(identity.Authenticate(s.cfg.Verifier)).Handle("/api/*", httpx.NotFoundHandler())
	return r
}
