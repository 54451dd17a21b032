// Package buildinfo holds what the linker stamps into the binary: its version and commit.
package buildinfo

import "runtime"

// Set with -ldflags "-X github.com/waooaw/waooaw/internal/buildinfo.Version=… -X ….Commit=…"
// (the Makefile does); a plain `go build` reports a development build.
var (
	Version = "0.0.0-dev"
	Commit  = "unknown"
)

// GoVersion is the Go release the binary was built with.
func GoVersion() string { return runtime.Version() }
