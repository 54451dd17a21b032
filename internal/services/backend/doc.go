// Package backend is the Plant Backend (SPEC §3): the agents, customers, trials and subscriptions
// API on PostgreSQL. It owns the database schema — including the gateway's audit table — as
// embedded, versioned migrations, applied at start under an advisory lock and by `waooaw migrate`.
//
// Every /api route needs a valid token (defence in depth: the gateway forwards the caller's token
// and the backend verifies it again). The tenant is the token's customer_id: customer roles see
// only their own customer's rows, and another tenant's resource answers 404, never 403, so ids
// cannot be probed. Permissions (RBAC) are the gateway's job.
package backend
