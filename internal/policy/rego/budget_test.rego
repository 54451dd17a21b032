package waooaw.gateway.budget_test

import data.waooaw.gateway.budget

test_alert_level[name] if {
	some tc in [
		{"percent": 0, "level": "normal"},
		{"percent": 79.99, "level": "normal"},
		{"percent": 80, "level": "warning"},
		{"percent": 94.99, "level": "warning"},
		{"percent": 95, "level": "high"},
		{"percent": 99.99, "level": "high"},
		{"percent": 100, "level": "critical"},
		{"percent": 150, "level": "critical"},
	]
	name := sprintf("%v%% is %s", [tc.percent, tc.level])
	budget.alert_level(tc.percent) == tc.level
}

test_alert_thresholds if {
	budget.alert_thresholds == [
		{"level": "critical", "percent": 100},
		{"level": "high", "percent": 95},
		{"level": "warning", "percent": 80},
	]
}

# alert_level takes the first threshold reached, which is only right while they run downwards.
test_alert_thresholds_run_from_highest_to_lowest if {
	percents := [t.percent | some t in budget.alert_thresholds]
	percents == array.reverse(sort(percents))
}

# The gateway computes the level from alert_thresholds; alert_level must agree at each edge.
test_alert_level_agrees_with_thresholds[t.level] if {
	some t in budget.alert_thresholds
	budget.alert_level(t.percent) == t.level
	budget.alert_level(t.percent - 0.01) != t.level
}

test_caps_echo_the_configured_limits if {
	caps := budget.caps with input as {"limits": {
		"cost_per_request_micros": 1500,
		"agent_daily_micros": 2000000,
		"platform_monthly_micros": 300000000,
		"trial_tasks_per_day": 10,
	}}
	caps == {
		"cost_micros": 1500,
		"agent_daily_micros": 2000000,
		"platform_monthly_micros": 300000000,
		"alert_thresholds": budget.alert_thresholds,
	}
}
