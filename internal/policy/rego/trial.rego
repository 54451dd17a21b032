# Package waooaw.gateway.trial decides what a trial token may still do (SPEC §4.4): whether the
# trial is over, and whether a request counts against the daily task limit that the gateway
# counts in Redis.
package waooaw.gateway.trial

default mode := false

mode if input.trial.mode == true

# Reads are free; every request that may change something is a task.
read_methods := {"GET", "HEAD", "OPTIONS"}

default counts_as_task := false

counts_as_task if {
	mode
	not input.method in read_methods
}

tasks_per_day := input.limits.trial_tasks_per_day

expires_ns := time.parse_rfc3339_ns(input.trial.expires_at)

# A trial whose expiry cannot be read is over: an endless trial is the worse mistake.
default expired := false

expired if {
	mode
	not running
}

running if time.now_ns() < expires_ns

reason := sprintf("The trial ended at %s. Upgrade to a subscription to continue.", [input.trial.expires_at]) if {
	expires_ns
} else := "The trial has no valid expiry time. Upgrade to a subscription to continue."
