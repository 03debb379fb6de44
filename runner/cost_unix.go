//go:build unix

package runner

import (
	"runtime"
	"syscall"
	"time"
)

// CurrentUsage returns the resources this process and its waited-for
// children have used so far; fields it cannot read are zero.
func CurrentUsage() Usage {
	var self, children syscall.Rusage
	var u Usage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) == nil {
		u.SelfCPU = rusageCPU(&self)
		u.SelfMaxRSS = maxRSSBytes(self.Maxrss)
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children) == nil {
		u.ChildrenCPU = rusageCPU(&children)
		u.ChildrenMaxRSS = maxRSSBytes(children.Maxrss)
	}
	return u
}

func rusageCPU(r *syscall.Rusage) time.Duration {
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// maxRSSBytes converts ru_maxrss: bytes on Darwin, KiB elsewhere.
func maxRSSBytes(v int64) int64 {
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return v
	}
	return v << 10
}
