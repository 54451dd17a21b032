package token

import "slices"

// Roles a WAOOAW token may carry (SPEC §4.2). Customer-portal (CP) roles are
// scoped to the tenant named by the token's customer_id; platform-portal (PP)
// roles see every tenant.
const (
	RoleCustomerUser           = "customer_user"
	RoleCustomerAdmin          = "customer_admin"
	RoleAdmin                  = "admin"
	RoleSubscriptionManager    = "subscription_manager"
	RoleAgentOrchestrator      = "agent_orchestrator"
	RoleInfrastructureEngineer = "infrastructure_engineer"
	RoleHelpdeskAgent          = "helpdesk_agent"
	RoleIndustryManager        = "industry_manager"
	RoleViewer                 = "viewer"
)

// Roles returns every known role, customer roles first, in a stable order.
// The slice is fresh on each call, so callers may keep or modify it.
func Roles() []string {
	return []string{
		RoleCustomerUser,
		RoleCustomerAdmin,
		RoleAdmin,
		RoleSubscriptionManager,
		RoleAgentOrchestrator,
		RoleInfrastructureEngineer,
		RoleHelpdeskAgent,
		RoleIndustryManager,
		RoleViewer,
	}
}

// IsKnownRole reports whether r is one of [Roles].
func IsKnownRole(r string) bool {
	switch r {
	case RoleCustomerUser, RoleCustomerAdmin, RoleAdmin, RoleSubscriptionManager,
		RoleAgentOrchestrator, RoleInfrastructureEngineer, RoleHelpdeskAgent,
		RoleIndustryManager, RoleViewer:
		return true
	}
	return false
}

// IsCustomerRole reports whether r is a customer-portal role, one that is
// confined to its own tenant.
func IsCustomerRole(r string) bool {
	return r == RoleCustomerUser || r == RoleCustomerAdmin
}

// HasRole reports whether the claims carry role r.
func (c *Claims) HasRole(r string) bool {
	return slices.Contains(c.Roles, r)
}

// IsCustomerScoped reports whether the caller is a tenant user who may see
// only c.CustomerID: true when every role is a customer role. A token without
// roles counts as scoped, so a caller that skipped verification fails closed.
func (c *Claims) IsCustomerScoped() bool {
	for _, r := range c.Roles {
		if !IsCustomerRole(r) {
			return false
		}
	}
	return true
}

// IsGovernor reports whether the caller may approve governor-only actions
// (SPEC §4.4): role admin together with a governor_agent_id claim.
func (c *Claims) IsGovernor() bool {
	return c.HasRole(RoleAdmin) && c.GovernorAgentID != ""
}
