// Package portal is the CP (customer portal) and PP (platform portal) proxy (SPEC §5): one thin,
// browser-facing tier, configured twice. It answers CORS, reports whether the Plant Gateway is
// reachable, and passes every /api request on to the gateway, marked with X-Gateway-Type CP or PP
// so the gateway's audit can tell the portals apart. It decides nothing about who may do what:
// authentication, permissions and budgets are the gateway's.
package portal
