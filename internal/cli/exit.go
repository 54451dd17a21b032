package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
)

// Exit codes (SPEC §7).
const (
	exitOK          = 0
	exitFailed      = 1 // a check failed or the stack is unhealthy
	exitUsage       = 2 // usage or configuration error
	exitEnvironment = 3 // Docker unreachable, port taken, prerequisite missing, stack not running
	exitInterrupted = 130
)

// exitError carries the exit code a failure should end the process with.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(err error) error       { return &exitError{exitUsage, err} }
func configErr(err error) error      { return &exitError{exitUsage, err} }
func environmentErr(err error) error { return &exitError{exitEnvironment, err} }

// report prints err (if any) on stderr and returns the process exit code for it.
func report(stderr io.Writer, ctx context.Context, err error) int {
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "waooaw: interrupted")
		return exitInterrupted
	}
	code := exitFailed
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	} else if errors.Is(err, syscall.EADDRINUSE) {
		code = exitEnvironment
	} else if isCobraUsageError(err) {
		code = exitUsage
	}
	fmt.Fprintf(stderr, "waooaw: %v\n", err)
	if code == exitUsage && isCobraUsageError(err) {
		fmt.Fprintln(stderr, "Run 'waooaw --help' for usage.")
	}
	return code
}

// isCobraUsageError recognises cobra's own argument errors, which it returns as plain errors.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "invalid argument"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}
