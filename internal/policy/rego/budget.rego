# Package waooaw.gateway.budget states the budget caps that apply to a request and the alert
# levels of platform utilisation (SPEC §4.5). The caps come from the gateway's configuration;
# the gateway counts spending against them in Redis.
package waooaw.gateway.budget

# alert_thresholds run from the highest percent down, so the first one reached is the level.
# The gateway computes the level from this list after counting; alert_level is the same rule in
# Rego and must agree with it.
alert_thresholds := [
	{"level": "critical", "percent": 100},
	{"level": "high", "percent": 95},
	{"level": "warning", "percent": 80},
]

alert_level(percent) := reached[0] if {
	reached := [t.level | some t in alert_thresholds; percent >= t.percent]
	count(reached) > 0
} else := "normal"

caps := {
	"cost_micros": input.limits.cost_per_request_micros,
	"agent_daily_micros": input.limits.agent_daily_micros,
	"platform_monthly_micros": input.limits.platform_monthly_micros,
	"alert_thresholds": alert_thresholds,
}
