package waooaw.gateway.rbac_test

import data.waooaw.gateway.rbac

# expected is the matrix of SPEC §4.3 written out role by role, independently of the policy's
# table, so that any change to the policy's matrix fails a test here.
expected := {
	"admin": permissions,
	"agent_orchestrator": {"agent.view", "industry.view", "agent.create"},
	"customer_admin": {
		"agent.view", "industry.view", "customer.view",
		"subscription.create", "subscription.cancel", "subscription.view",
		"trial.create", "trial.view", "trial.update",
	},
	"customer_user": {
		"agent.view", "industry.view", "customer.view",
		"subscription.view", "trial.create", "trial.view",
	},
	"helpdesk_agent": {"agent.view", "industry.view", "customer.view", "subscription.view", "trial.view"},
	"industry_manager": {"agent.view", "industry.view"},
	"infrastructure_engineer": {"agent.view", "industry.view"},
	"subscription_manager": {
		"agent.view", "industry.view", "customer.view", "customer.create",
		"subscription.create", "subscription.cancel", "subscription.view",
		"trial.create", "trial.view", "trial.update",
	},
	"viewer": {"agent.view", "industry.view"},
}

permissions := {
	"agent.view", "agent.create", "agent.delete", "industry.view",
	"customer.view", "customer.create",
	"subscription.create", "subscription.cancel", "subscription.view",
	"trial.create", "trial.view", "trial.update",
}

request(permission, roles) := {"permission": permission, "user": {"roles": roles}}

test_policy_knows_exactly_the_expected_roles if {
	rbac.roles == object.keys(expected)
}

test_policy_knows_exactly_the_expected_permissions if {
	object.keys(rbac.grants) == permissions
}

# One case per role × permission pair.
test_role_permission[name] if {
	some role, granted in expected
	some permission in permissions
	want := permission in granted
	name := sprintf("%s %s allowed=%v", [role, permission, want])
	got := rbac.allowed with input as request(permission, [role])
	got == want
}

test_allowed_roles_lists_every_allowed_role_sorted[permission] if {
	some permission in permissions
	want := sort({role | some role, granted in expected; permission in granted})
	got := rbac.allowed_roles with input as request(permission, ["viewer"])
	got == want
}

test_unknown_permission_is_admin_only[role] if {
	some role, _ in expected
	want := role == "admin"
	got := rbac.allowed with input as request("agent.launch", [role])
	got == want
}

test_unknown_permission_lists_admin_alone if {
	rbac.allowed_roles == ["admin"] with input as request("agent.launch", ["viewer"])
}

test_any_one_allowed_role_suffices if {
	rbac.allowed with input as request("customer.create", ["viewer", "subscription_manager"])
}

test_no_roles_is_denied[name] if {
	some name, doc in {
		"empty roles": {"permission": "agent.view", "user": {"roles": []}},
		"null roles": {"permission": "agent.view", "user": {"roles": null}},
		"no user": {"permission": "agent.view"},
	}
	not rbac.allowed with input as doc
}

test_unknown_role_is_denied if {
	not rbac.allowed with input as request("agent.view", ["superuser"])
}

test_reason_names_the_allowed_roles if {
	rbac.reason == "Permission agent.create requires one of the roles: admin, agent_orchestrator" with input as request("agent.create", ["viewer"])
}
