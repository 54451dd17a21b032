package httpx

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Healthz is the liveness handler: 200 {"status":"alive"} while the process
// serves. It checks no dependency; readiness is each service's /health.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
}

// NotFoundHandler answers a 404 not-found problem; set it as chi's NotFound.
func NotFoundHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteProblem(w, r, NotFound(fmt.Sprintf("No resource at %s.", r.URL.Path)))
	})
}

// MethodNotAllowedHandler answers a 405 method-not-allowed problem; set it
// as chi's MethodNotAllowed. chi drops its Allow header when the handler is
// replaced, so the handler asks the router which methods the path has.
func MethodNotAllowedHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allowed := allowedMethods(r)
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
		}
		WriteProblem(w, r, NewProblem(SlugMethodNotAllowed,
			fmt.Sprintf("Method %s is not allowed on %s.", r.Method, r.URL.Path)))
	})
}

// allowedMethods lists the methods the request's router serves on its path.
func allowedMethods(r *http.Request) []string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || rctx.Routes == nil {
		return nil
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	var allowed []string
	for _, m := range []string{
		http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions,
	} {
		if rctx.Routes.Match(chi.NewRouteContext(), m, path) {
			allowed = append(allowed, m)
		}
	}
	return allowed
}
