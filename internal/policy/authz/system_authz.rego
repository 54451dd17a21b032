# Who may use OPA's REST API: the policy server runs with token authentication and basic
# authorization (as `opa run --server --authentication=token --authorization=basic` does) and
# asks this policy about every request. It is loaded by the server only, beside the gateway's
# policies, and is no part of the gateway's policy tree or of its tests.
#
# The server writes the SHA-256 of the project's management token in place of the placeholder
# below; without a token it writes "", and then nobody may manage the server.
package system.authz

import rego.v1

management_token_sha256 := "MANAGEMENT_TOKEN_SHA256"

default allow := false

# Anyone may ask whether OPA is up (readiness probes).
allow if {
	input.method == "GET"
	input.path == ["health"]
}

# Anyone may ask for the gateway's decision, exactly as the gateway asks for it: a POST with no
# query parameters (explain, metrics, instrument and provenance would reveal the server's
# workings).
allow if {
	input.method == "POST"
	input.path == ["v1", "data", "waooaw", "gateway", "decision"]
	count(input.params) == 0
}

# The holder of the management token may do everything else: read and write policies and data,
# run queries, read the configuration and status. Only its hash is kept here, so reading this
# policy does not reveal it.
allow if {
	management_token_sha256 != ""
	crypto.sha256(input.identity) == management_token_sha256
}
