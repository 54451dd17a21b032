package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// What browsers are told about cross-origin requests. The exposed headers are
// the ones the portals' JavaScript reads (SPEC §4).
const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, X-Correlation-ID, X-Request-ID, traceparent"
	corsExposeHeaders = "X-Correlation-ID, Server-Timing, X-Budget-Alert-Level, X-Platform-Utilization, " +
		"X-Agent-Utilization, X-Target-Backend, Retry-After, Location"
	corsMaxAge = "600"
)

// CORS answers cross-origin requests for allowedOrigins, as ParseOrigins
// returns them; an entry "*" allows any origin.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
// answered here with 204 and never reaches next, so it is answered before
// any authentication: a browser sends no credentials with a preflight. An
// allowed origin gets Access-Control-Allow-Origin (its own origin, or "*"
// when only the "*" entry allows it), Allow-Credentials (not with "*"),
// Allow-Methods, Allow-Headers and Max-Age; any other origin gets a bare 204,
// which the browser reads as a refusal.
//
// Other requests go on to next; from an allowed origin they get
// Access-Control-Allow-Origin, Allow-Credentials and Expose-Headers. Every
// response gets Vary: Origin, since what it says depends on the Origin.
func CORS(allowedOrigins []string) func(http.Handler) http.Handler {
	anyOrigin := slices.Contains(allowedOrigins, "*")
	listed := make(map[string]bool, len(allowedOrigins))
	for _, o := range allowedOrigins {
		listed[strings.ToLower(o)] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Add("Vary", "Origin")
			origin := r.Header.Get("Origin")
			preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""

			allowed := origin != "" && (anyOrigin || listed[strings.ToLower(origin)])
			if allowed {
				if listed[strings.ToLower(origin)] {
					h.Set("Access-Control-Allow-Origin", origin)
					h.Set("Access-Control-Allow-Credentials", "true")
				} else {
					// Browsers refuse credentials with a wildcard origin.
					h.Set("Access-Control-Allow-Origin", "*")
				}
			}
			if !preflight {
				if allowed {
					h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
				}
				next.ServeHTTP(w, r)
				return
			}
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if allowed {
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", corsMaxAge)
			}
			w.WriteHeader(http.StatusNoContent)
		})
	}
}

// ParseOrigins parses CORS_ORIGINS: a comma-separated list whose entries are
// "*" or an origin scheme://host[:port] with no path, as a browser sends it in
// the Origin header. An empty string allows no origin.
func ParseOrigins(s string) ([]string, error) {
	var origins []string
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if entry != "*" {
			if err := checkOrigin(entry); err != nil {
				return nil, fmt.Errorf("CORS_ORIGINS entry %q %w", entry, err)
			}
		}
		origins = append(origins, entry)
	}
	return origins, nil
}

// checkOrigin explains why s is not an origin. A path, even "/", is refused
// rather than trimmed: browsers never send one, so the entry could never
// match and the mistake would only show as blocked requests.
func checkOrigin(s string) error {
	const form = `must be "*" or scheme://host[:port]`
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return errors.New(form)
	case u.User != nil:
		return fmt.Errorf("%s without user info", form)
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return fmt.Errorf("%s with no path, query or fragment (not even a trailing /)", form)
	case u.Port() == "" && strings.HasSuffix(u.Host, ":"):
		return fmt.Errorf("%s: the port is empty", form)
	}
	return nil
}
