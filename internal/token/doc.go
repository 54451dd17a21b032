// Package token owns the WAOOAW JWT format (SPEC §4.2): the claims, the
// signing and verification keys (PEM, JWKS, HS256 secrets), minting, the
// verification rules, the parsing of the Authorization header and the
// JWT_* configuration. The backend, the gateway and the CLI all go through it,
// so a token the CLI mints is exactly a token the services accept.
package token
