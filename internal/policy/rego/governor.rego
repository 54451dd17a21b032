# Package waooaw.gateway.governor decides which requests need a Governor's approval (SPEC §4.4).
# A Governor is an admin acting for a governor agent; anyone else who passed RBAC is sent to the
# approval UI instead of the backend.
package waooaw.gateway.governor

# governed are the permissions that change the agent catalogue.
governed := {"agent.create", "agent.delete"}

default required := false

required if input.permission in governed

default approved := false

approved if {
	"admin" in input.user.roles
	is_string(input.user.governor_agent_id)
	trim_space(input.user.governor_agent_id) != ""
}

reason := sprintf("Permission %s requires approval by a Governor (role admin with a governor_agent_id)", [input.permission])
