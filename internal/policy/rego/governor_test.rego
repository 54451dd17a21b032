package waooaw.gateway.governor_test

import data.waooaw.gateway.governor

request(permission, roles, governor_agent_id) := {
	"permission": permission,
	"user": {"roles": roles, "governor_agent_id": governor_agent_id},
}

test_governor[name] if {
	some name, tc in {
		"orchestrator creating an agent needs approval": {
			"permission": "agent.create", "roles": ["agent_orchestrator"], "governor_agent_id": "",
			"required": true, "approved": false,
		},
		"orchestrator with a governor agent id is still no Governor": {
			"permission": "agent.create", "roles": ["agent_orchestrator"], "governor_agent_id": "gov-1",
			"required": true, "approved": false,
		},
		"admin without a governor agent id needs approval": {
			"permission": "agent.delete", "roles": ["admin"], "governor_agent_id": "",
			"required": true, "approved": false,
		},
		"admin with a governor agent id is a Governor": {
			"permission": "agent.create", "roles": ["admin"], "governor_agent_id": "gov-1",
			"required": true, "approved": true,
		},
		"Governor among other roles": {
			"permission": "agent.delete", "roles": ["viewer", "admin"], "governor_agent_id": "gov-1",
			"required": true, "approved": true,
		},
		"non-governed permission": {
			"permission": "agent.view", "roles": ["viewer"], "governor_agent_id": "",
			"required": false, "approved": false,
		},
		"non-governed permission, Governor": {
			"permission": "trial.create", "roles": ["admin"], "governor_agent_id": "gov-1",
			"required": false, "approved": true,
		},
		"admin with a blank governor agent id is no Governor": {
			"permission": "agent.create", "roles": ["admin"], "governor_agent_id": " ",
			"required": true, "approved": false,
		},
		"admin with a whitespace governor agent id is no Governor": {
			"permission": "agent.delete", "roles": ["admin"], "governor_agent_id": "\t \n",
			"required": true, "approved": false,
		},
		"non-string governor agent id": {
			"permission": "agent.create", "roles": ["admin"], "governor_agent_id": 7,
			"required": true, "approved": false,
		},
	}
	doc := request(tc.permission, tc.roles, tc.governor_agent_id)
	required := governor.required with input as doc
	approved := governor.approved with input as doc
	required == tc.required
	approved == tc.approved
}

test_missing_user_is_not_approved if {
	not governor.approved with input as {"permission": "agent.create"}
}

test_reason_names_the_permission if {
	governor.reason == "Permission agent.delete requires approval by a Governor (role admin with a governor_agent_id)" with input as request("agent.delete", ["admin"], "")
}
