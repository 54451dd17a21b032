package waooaw.gateway.trial_test

import data.waooaw.gateway.trial

# now is 2026-06-01T12:00:00Z, the mocked clock of every expiry test.
now := 1780315200000000000

request(mode, expires_at, method) := {
	"method": method,
	"trial": {"mode": mode, "expires_at": expires_at},
	"limits": {"trial_tasks_per_day": 10},
}

test_expiry[name] if {
	some name, tc in {
		"future": {"expires_at": "2026-06-02T00:00:00Z", "expired": false},
		"one second left": {"expires_at": "2026-06-01T12:00:01Z", "expired": false},
		"offset zone, future": {"expires_at": "2026-06-01T14:00:01+02:00", "expired": false},
		"at the instant of expiry": {"expires_at": "2026-06-01T12:00:00Z", "expired": true},
		"past": {"expires_at": "2026-05-01T00:00:00Z", "expired": true},
		"missing": {"expires_at": "", "expired": true},
		"unparsable": {"expires_at": "next tuesday", "expired": true},
		"date only": {"expires_at": "2026-12-01", "expired": true},
	}
	got := trial.expired with input as request(true, tc.expires_at, "GET") with time.now_ns as now
	got == tc.expired
}

test_expiry_key_absent_is_expired if {
	trial.expired with input as {"trial": {"mode": true}} with time.now_ns as now
}

test_not_in_trial_mode_never_expires[name] if {
	some name, expires_at in {"past": "2026-05-01T00:00:00Z", "missing": ""}
	not trial.expired with input as request(false, expires_at, "POST") with time.now_ns as now
}

test_mode[name] if {
	some name, tc in {
		"true": {"trial": {"mode": true}, "want": true},
		"false": {"trial": {"mode": false}, "want": false},
		"missing": {"trial": {}, "want": false},
		"string true is not true": {"trial": {"mode": "true"}, "want": false},
	}
	got := trial.mode with input as {"trial": tc.trial}
	got == tc.want
}

test_counts_as_task[name] if {
	some name, tc in {
		"trial GET": {"mode": true, "method": "GET", "want": false},
		"trial HEAD": {"mode": true, "method": "HEAD", "want": false},
		"trial OPTIONS": {"mode": true, "method": "OPTIONS", "want": false},
		"trial POST": {"mode": true, "method": "POST", "want": true},
		"trial PUT": {"mode": true, "method": "PUT", "want": true},
		"trial PATCH": {"mode": true, "method": "PATCH", "want": true},
		"trial DELETE": {"mode": true, "method": "DELETE", "want": true},
		"not trial POST": {"mode": false, "method": "POST", "want": false},
		"not trial GET": {"mode": false, "method": "GET", "want": false},
	}
	got := trial.counts_as_task with input as request(tc.mode, "2026-06-02T00:00:00Z", tc.method)
	got == tc.want
}

test_tasks_per_day_echoes_the_configured_limit if {
	trial.tasks_per_day == 25 with input as {"limits": {"trial_tasks_per_day": 25}}
}

test_reason_names_the_expiry if {
	trial.reason == "The trial ended at 2026-05-01T00:00:00Z. Upgrade to a subscription to continue." with input as request(true, "2026-05-01T00:00:00Z", "GET")
}

test_reason_without_a_valid_expiry if {
	trial.reason == "The trial has no valid expiry time. Upgrade to a subscription to continue." with input as request(true, "", "GET")
}
