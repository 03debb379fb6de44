//go:build unix

package runner

import (
	"errors"
	"syscall"
)

// processLiveness checks a process of this host with signal 0.
func processLiveness(pid int) Liveness {
	err := syscall.Kill(pid, 0)
	if err == nil || errors.Is(err, syscall.EPERM) {
		return HolderAlive
	}
	return HolderDead
}
