package waooaw.gateway_test

import data.waooaw.gateway

# now is 2026-06-01T12:00:00Z, the mocked clock of every test here.
now := 1780315200000000000

future := "2026-12-01T00:00:00Z"

past := "2026-05-01T00:00:00Z"

# base is a complete input as the gateway sends it: a viewer reading agents.
base := {
	"method": "GET",
	"permission": "agent.view",
	"resource": "agent",
	"action": "view",
	"user": {"id": "u1", "roles": ["viewer"], "customer_id": "", "governor_agent_id": "", "agent_id": ""},
	"trial": {"mode": false, "expires_at": ""},
	"sandbox_configured": false,
	"limits": {
		"cost_per_request_micros": 1000,
		"agent_daily_micros": 1000000,
		"platform_monthly_micros": 100000000,
		"trial_tasks_per_day": 10,
	},
}

# request is base with the members of overrides merged in (objects merge, arrays replace).
request(overrides) := object.union(base, overrides)

decide(overrides) := d if {
	d := gateway.decision with input as request(overrides) with time.now_ns as now
}

thresholds := [
	{"level": "critical", "percent": 100},
	{"level": "high", "percent": 95},
	{"level": "warning", "percent": 80},
]

test_allowed_decision_document if {
	decide({"method": "POST", "user": {"roles": ["customer_user"]}, "permission": "trial.create", "trial": {"mode": true, "expires_at": future}, "sandbox_configured": true}) == {
		"allow": true,
		"deny": {"layer": "", "slug": "", "reason": ""},
		"rbac": {
			"allowed": true,
			"required_permission": "trial.create",
			"allowed_roles": ["admin", "customer_admin", "customer_user", "subscription_manager"],
		},
		"governor": {"required": false, "approved": false},
		"trial": {"mode": true, "expired": false, "counts_as_task": true, "tasks_per_day": 10},
		"target": "sandbox",
		"budget": {
			"cost_micros": 1000,
			"agent_daily_micros": 1000000,
			"platform_monthly_micros": 100000000,
			"alert_thresholds": thresholds,
		},
	}
}

test_denied_decision_document if {
	decide({"method": "POST", "permission": "agent.create"}) == {
		"allow": false,
		"deny": {
			"layer": "rbac",
			"slug": "permission-denied",
			"reason": "Permission agent.create requires one of the roles: admin, agent_orchestrator",
		},
		"rbac": {"allowed": false, "required_permission": "agent.create", "allowed_roles": ["admin", "agent_orchestrator"]},
		"governor": {"required": true, "approved": false},
		"trial": {"mode": false, "expired": false, "counts_as_task": false, "tasks_per_day": 10},
		"target": "production",
		"budget": {
			"cost_micros": 1000,
			"agent_daily_micros": 1000000,
			"platform_monthly_micros": 100000000,
			"alert_thresholds": thresholds,
		},
	}
}

# Every member is present, with its type, whatever the outcome.
test_decision_shape[name] if {
	some name, overrides in {
		"allowed": {},
		"rbac denied": {"permission": "agent.delete"},
		"trial expired": {"trial": {"mode": true, "expires_at": past}},
		"governor redirect": {"permission": "agent.create", "user": {"roles": ["agent_orchestrator"]}},
		"unknown permission": {"permission": "agent.launch"},
	}
	d := decide(overrides)
	object.keys(d) == {"allow", "deny", "rbac", "governor", "trial", "target", "budget"}
	is_boolean(d.allow)
	object.keys(d.deny) == {"layer", "slug", "reason"}
	every member in d.deny {
		is_string(member)
	}
	object.keys(d.rbac) == {"allowed", "required_permission", "allowed_roles"}
	is_boolean(d.rbac.allowed)
	is_string(d.rbac.required_permission)
	is_array(d.rbac.allowed_roles)
	object.keys(d.governor) == {"required", "approved"}
	every member in d.governor {
		is_boolean(member)
	}
	object.keys(d.trial) == {"mode", "expired", "counts_as_task", "tasks_per_day"}
	is_number(d.trial.tasks_per_day)
	d.target in {"sandbox", "production"}
	object.keys(d.budget) == {"cost_micros", "agent_daily_micros", "platform_monthly_micros", "alert_thresholds"}
}

test_denial_order[name] if {
	some name, tc in {
		"rbac before trial expiry": {
			"overrides": {"permission": "agent.delete", "trial": {"mode": true, "expires_at": past}},
			"layer": "rbac", "slug": "permission-denied",
		},
		"trial expiry before governor": {
			"overrides": {
				"permission": "agent.create", "user": {"roles": ["agent_orchestrator"]},
				"trial": {"mode": true, "expires_at": past},
			},
			"layer": "trial", "slug": "trial-expired",
		},
		"trial without expiry is expired": {
			"overrides": {"trial": {"mode": true, "expires_at": ""}},
			"layer": "trial", "slug": "trial-expired",
		},
		"governor when nothing else denies": {
			"overrides": {"permission": "agent.create", "user": {"roles": ["agent_orchestrator"]}},
			"layer": "governor", "slug": "",
		},
		"admin without governor agent id is redirected": {
			"overrides": {"permission": "agent.delete", "user": {"roles": ["admin"]}},
			"layer": "governor", "slug": "",
		},
	}
	d := decide(tc.overrides)
	d.allow == false
	d.deny.layer == tc.layer
	d.deny.slug == tc.slug
	d.deny.reason != ""
}

test_governor_approved_is_allowed if {
	d := decide({"permission": "agent.create", "method": "POST", "user": {"roles": ["admin"], "governor_agent_id": "gov-1"}})
	d.allow == true
	d.governor == {"required": true, "approved": true}
}

test_trial_before_expiry_is_allowed if {
	d := decide({"trial": {"mode": true, "expires_at": future}})
	d.allow == true
	d.trial.expired == false
}

test_sandbox_choice[name] if {
	some name, tc in {
		"trial, sandbox configured": {"mode": true, "sandbox": true, "target": "sandbox"},
		"trial, no sandbox": {"mode": true, "sandbox": false, "target": "production"},
		"not trial, sandbox configured": {"mode": false, "sandbox": true, "target": "production"},
		"not trial, no sandbox": {"mode": false, "sandbox": false, "target": "production"},
	}
	d := decide({"trial": {"mode": tc.mode, "expires_at": future}, "sandbox_configured": tc.sandbox})
	d.target == tc.target
}

test_budget_echoes_the_configured_limits if {
	d := decide({"limits": {"cost_per_request_micros": 7, "agent_daily_micros": 8, "platform_monthly_micros": 9, "trial_tasks_per_day": 3}})
	d.budget.cost_micros == 7
	d.budget.agent_daily_micros == 8
	d.budget.platform_monthly_micros == 9
	d.trial.tasks_per_day == 3
}
