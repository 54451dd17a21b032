package token

import (
	"slices"
	"strings"
)

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
// only c.CustomerID: true when the token names a customer, whatever else it
// holds, and when every role is a customer role. A token without roles counts
// as scoped, so a caller that skipped verification fails closed.
func (c *Claims) IsCustomerScoped() bool {
	if c.CustomerID != "" {
		return true
	}
	for _, r := range c.Roles {
		if !IsCustomerRole(r) {
			return false
		}
	}
	return true
}

// CheckRoles applies the role rules every verifier and `token mint` share: at
// least one role, every role known, and customer roles never mixed with
// platform roles (a token is either a tenant's or the platform's, so no role
// can lend its reach to another). The error is an [*InvalidError] whose reason
// may be shown to the caller.
func CheckRoles(roles []string) error {
	if len(roles) == 0 {
		return invalid("claim %q must not be empty", claimRoles)
	}
	var customer, platform string
	for _, r := range roles {
		switch {
		case !IsKnownRole(r):
			return invalid("unknown role %s", quoteShort(r))
		case IsCustomerRole(r):
			customer = r
		default:
			platform = r
		}
	}
	if customer != "" && platform != "" {
		return invalid("roles mix the customer role %s with the platform role %s; a token holds one kind", customer, platform)
	}
	return nil
}

// IsGovernor reports whether the caller may approve governor-only actions
// (SPEC §4.4): role admin together with a governor_agent_id claim that is not
// blank. The policy's governor rule says the same.
func (c *Claims) IsGovernor() bool {
	return c.HasRole(RoleAdmin) && strings.TrimSpace(c.GovernorAgentID) != ""
}
