# Package waooaw.gateway answers, in one decision document per request, what the Plant Gateway
# must do with it: whether the caller's roles allow it (rbac), whether a trial is over (trial),
# whether it needs a Governor's approval (governor), where it goes (target) and which budget caps
# apply (budget). The gateway enforces the counters against those caps itself, in Redis.
package waooaw.gateway

import data.waooaw.gateway.budget
import data.waooaw.gateway.governor
import data.waooaw.gateway.rbac
import data.waooaw.gateway.trial

# decision is the one document the gateway queries (POST /v1/data/waooaw/gateway/decision).
# Every member is present for every well-formed input, so the gateway can treat a missing member
# as a broken policy and fail closed.
decision := {
	"allow": allow,
	"deny": deny,
	"rbac": {
		"allowed": rbac.allowed,
		"required_permission": input.permission,
		"allowed_roles": rbac.allowed_roles,
	},
	"governor": {
		"required": governor.required,
		"approved": governor.approved,
	},
	"trial": {
		"mode": trial.mode,
		"expired": trial.expired,
		"counts_as_task": trial.counts_as_task,
		"tasks_per_day": trial.tasks_per_day,
	},
	"target": target,
	"budget": budget.caps,
}

# A Governor redirect is a denial too: the request must not reach the backend.
allow := deny.layer == ""

# deny names the first layer that refuses the request. The order is the order in which the
# gateway reports refusals: a caller without the permission learns nothing about its trial, and
# an expired trial is not sent to the Governor. The governor layer has no problem slug because the
# gateway answers it with a redirect to the approval UI, not with an error.
deny := {"layer": "rbac", "slug": "permission-denied", "reason": rbac.reason} if {
	not rbac.allowed
} else := {"layer": "trial", "slug": "trial-expired", "reason": trial.reason} if {
	trial.expired
} else := {"layer": "governor", "slug": "", "reason": governor.reason} if {
	governor.required
	not governor.approved
} else := {"layer": "", "slug": "", "reason": ""}

# Trial users are kept away from production data whenever a sandbox exists.
default target := "production"

target := "sandbox" if {
	trial.mode
	input.sandbox_configured == true
}
