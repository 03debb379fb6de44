//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSS is a finished child's peak RSS in bytes (ru_maxrss is in bytes on
// Darwin, KiB elsewhere).
func maxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) << 10
}

// flushDirty writes back dirty pages (the previous engine's output and
// deleted files' buffers), so the kernel's writeback does not take CPU
// from the next measurement.
func flushDirty() { syscall.Sync() }
