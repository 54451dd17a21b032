// Package httpx owns what every WAOOAW HTTP service shares (SPEC §2): the
// server lifecycle with graceful shutdown, RFC 9457 problem details,
// correlation and W3C trace context, structured JSON logging, the access log,
// Prometheus metrics, JSON request decoding with a body limit, and the
// standard liveness, 404 and 405 handlers, CORS, and the reverse-proxy core
// the gateway and the portals share (SPEC §4.7).
//
// A service's middleware stack, outermost first, is
//
//	Recover → Correlation → AccessLog → LimitBody → routes
//
// Recover is outermost so that a panic anywhere still yields a problem body;
// Correlation runs before AccessLog so that the access line carries the id.
// A browser-facing service puts CORS right after AccessLog, so preflights are
// logged and answered before any authentication.
package httpx
