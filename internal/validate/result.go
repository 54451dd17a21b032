// Package validate is `waooaw verify`: the ten end-to-end checks of SPEC §9 and the
// authenticated workflows of the full suite, run against a stack's URLs, and the reports
// (text, JSON, JUnit, TAP, Markdown) that CI gates on. Every report is redacted: no token or
// secret appears in any output.
package validate

import (
	"time"
)

// Outcome is how a check ended.
type Outcome string

// The outcomes.
const (
	Passed  Outcome = "passed"
	Failed  Outcome = "failed"
	Skipped Outcome = "skipped"
)

// Result is one check's record.
type Result struct {
	ID       string        `json:"id"`   // stable, e.g. "backend-health"
	Name     string        `json:"name"` // for people, e.g. "Backend health"
	Outcome  Outcome       `json:"outcome"`
	Duration time.Duration `json:"duration_ns"`
	Attempts int           `json:"attempts"`
	// Message says why it failed or was skipped; for a pass, what it proved (short).
	Message string `json:"message,omitempty"`
	// Evidence is what the check saw, one item per line: a status line, a body excerpt, the
	// SQL it ran and the answer.
	Evidence []string `json:"evidence,omitempty"`
	// Service is the service a failure points at, and LogTail its last log lines, when known.
	Service string   `json:"service,omitempty"`
	LogTail []string `json:"log_tail,omitempty"`

	unreachable bool // failed because nothing answered
}

// Report is one run of the suite.
type Report struct {
	Suite     string        `json:"suite"`  // "smoke" or "full"
	Target    string        `json:"target"` // e.g. `project "waooaw" (local)` or the CP URL
	StartedAt time.Time     `json:"started_at"`
	Duration  time.Duration `json:"duration_ns"`
	Results   []Result      `json:"results"`
}

// Counts returns how many checks passed, failed and were skipped.
func (r *Report) Counts() (passed, failed, skipped int) {
	for _, res := range r.Results {
		switch res.Outcome {
		case Passed:
			passed++
		case Failed:
			failed++
		case Skipped:
			skipped++
		}
	}
	return passed, failed, skipped
}

// OK reports whether no check failed.
func (r *Report) OK() bool {
	_, failed, _ := r.Counts()
	return failed == 0
}
