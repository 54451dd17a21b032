// Package gateway is the Plant Gateway (SPEC §4): the one door to the Plant Backend. Per request,
// outermost first: recover → correlation → access log and metrics → CORS → audit → auth → RBAC →
// policy → budget → proxy → accounting.
//
// OPA decides who may do what and which limits apply, in one decision per request (cached
// briefly, keyed on exactly what the policy reads); the ledger enforces the counters against
// those limits in one atomic Redis round trip. Every rejection is an RFC 9457 problem, and each
// enforcing layer reports its time in Server-Timing.
package gateway
