package validate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options select and pace the checks of a run.
type Options struct {
	// Suite is "smoke" (the ten checks), "full" (also the authenticated workflows) or
	// "security" (the attacker's checks alone).
	Suite string
	// Only and Skip select checks by id.
	Only, Skip []string
	// RetryTimeout retries a failing check until this much time has passed since the run
	// began: for a stack that has just started.
	RetryTimeout time.Duration
	// Target names what is checked, for the report.
	Target string
}

// retryPause is the wait between two attempts of a failing check.
const retryPause = 250 * time.Millisecond

// Select returns the checks o selects, or an error naming an unknown id.
func Select(o Options) ([]Check, error) {
	all := Checks()
	ids := make([]string, len(all))
	for i, c := range all {
		ids[i] = c.ID
	}
	for _, id := range append(slices.Clone(o.Only), o.Skip...) {
		if !slices.Contains(ids, id) {
			return nil, fmt.Errorf("unknown check %q; the checks are: %s", id, strings.Join(ids, ", "))
		}
	}
	switch o.Suite {
	case "", "smoke", "full", "security":
	default:
		return nil, fmt.Errorf("suite %q: use smoke, full or security", o.Suite)
	}
	var out []Check
	for _, c := range all {
		switch {
		case slices.Contains(o.Skip, c.ID):
		case len(o.Only) > 0:
			if slices.Contains(o.Only, c.ID) {
				out = append(out, c)
			}
		case c.Full && o.Suite != "full":
		// The security suite is its own run: its checks alone, never added to the others.
		case c.Security != (o.Suite == "security"):
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

// Run runs the selected checks against t, concurrently (each makes its own data), and returns
// the report. An error means the options were wrong; failed checks are in the report.
func Run(ctx context.Context, t *Target, o Options) (*Report, error) {
	checks, err := Select(o)
	if err != nil {
		return nil, err
	}
	suite := o.Suite
	if suite == "" {
		suite = "smoke"
	}
	began := time.Now()
	rep := &Report{Suite: suite, Target: o.Target, StartedAt: began.UTC(), Results: make([]Result, len(checks))}
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep.Results[i] = runCheck(ctx, t, c, began.Add(o.RetryTimeout))
		}()
	}
	wg.Wait()
	rep.Duration = time.Since(began)
	return rep, nil
}

func runCheck(ctx context.Context, t *Target, c Check, retryUntil time.Time) Result {
	res := Result{ID: c.ID, Name: c.Name}
	began := time.Now()
	for {
		res.Attempts++
		ev := &evidence{}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		msg, err := c.run(cctx, t, ev)
		cancel()
		res.Evidence = ev.lines
		var skip skipError
		switch {
		case err == nil:
			res.Outcome, res.Message = Passed, msg
		case errors.As(err, &skip):
			res.Outcome, res.Message = Skipped, skip.Error()
		default:
			res.Outcome, res.Message = Failed, err.Error()
			res.unreachable = isUnreachable(err)
		}
		if res.Outcome != Failed || time.Now().Add(retryPause).After(retryUntil) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(retryPause):
		}
	}
	res.Duration = time.Since(began)
	if res.Outcome == Failed {
		res.Service = c.Service
		if t.Logs != nil {
			res.LogTail = t.Logs(c.Service, 15)
		}
	}
	return res
}

// isUnreachable tells a refused or unresolvable connection from a wrong answer.
func isUnreachable(err error) bool {
	var dnsErr *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dnsErr) || errors.Is(err, syscall.EHOSTUNREACH)
}

// Unreachable reports whether nothing of the stack answered: every check that ran failed
// because it could not connect (exit code 3: no stack to verify).
func (r *Report) Unreachable() bool {
	any := false
	for _, res := range r.Results {
		switch {
		case res.Outcome == Passed:
			return false
		case res.Outcome == Failed && !res.unreachable:
			return false
		case res.Outcome == Failed:
			any = true
		}
	}
	return any
}
