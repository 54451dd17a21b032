//go:build !linux

package local

import "syscall"

// setParentDeathSignal does nothing: only Linux can signal a child when its parent exits.
func setParentDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}
