# Package waooaw.gateway.rbac holds the role → permission matrix of the Plant Gateway (SPEC §4.3).
package waooaw.gateway.rbac

# roles are every role a token may carry: the customer portal's and the platform portal's.
roles := {
	"admin",
	"agent_orchestrator",
	"customer_admin",
	"customer_user",
	"helpdesk_agent",
	"industry_manager",
	"infrastructure_engineer",
	"subscription_manager",
	"viewer",
}

# grants maps each permission of the gateway's route table to the roles, besides admin, that
# hold it. admin holds every permission, including any not listed here. The sets are written out
# (agent.view and industry.view name every role rather than referring to roles) so that grants
# is a constant the evaluator does not rebuild for each decision; the Rego tests fail if the two
# drift apart.
grants := {
	"agent.view": {
		"admin", "agent_orchestrator", "customer_admin", "customer_user", "helpdesk_agent",
		"industry_manager", "infrastructure_engineer", "subscription_manager", "viewer",
	},
	"industry.view": {
		"admin", "agent_orchestrator", "customer_admin", "customer_user", "helpdesk_agent",
		"industry_manager", "infrastructure_engineer", "subscription_manager", "viewer",
	},
	"agent.create": {"agent_orchestrator"},
	"agent.delete": set(),
	"customer.view": {"subscription_manager", "helpdesk_agent", "customer_admin", "customer_user"},
	"customer.create": {"subscription_manager"},
	"subscription.create": {"subscription_manager", "customer_admin"},
	"subscription.cancel": {"subscription_manager", "customer_admin"},
	"subscription.view": {"subscription_manager", "helpdesk_agent", "customer_admin", "customer_user"},
	"trial.create": {"subscription_manager", "customer_admin", "customer_user"},
	"trial.view": {"subscription_manager", "helpdesk_agent", "customer_admin", "customer_user"},
	"trial.update": {"subscription_manager", "customer_admin"},
}

# allowed_roles lists, sorted, the roles that may use the requested permission. An unknown
# permission belongs to admin alone: a route added to the gateway before the matrix learns of it
# stays closed to everyone else.
default allowed_roles := ["admin"]

allowed_roles := sort(grants[input.permission] | {"admin"})

default allowed := false

allowed if {
	some role in input.user.roles
	role in allowed_roles
}

reason := sprintf("Permission %s requires one of the roles: %s", [input.permission, concat(", ", allowed_roles)])
