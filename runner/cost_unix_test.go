//go:build unix

package runner

import (
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCurrentUsage(t *testing.T) {
	u0 := CurrentUsage()
	// Burn 200 ms of CPU here and touch 64 MiB. The burn is measured on
	// another clock than rusage's (the process CPU clock), not as wall
	// time: on a loaded machine 200 ms of wall time can be 80 ms of CPU.
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	start := processCPU(t)
	x := 0
	for giveUp := time.Now().Add(30 * time.Second); processCPU(t)-start < 200*time.Millisecond; x++ {
		if time.Now().After(giveUp) {
			t.Fatal("the process CPU clock did not reach 200 ms in 30 s")
		}
	}
	// And some in a child.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	if out, err := exec.Command(sh, "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done").CombinedOutput(); err != nil {
		t.Fatalf("child: %v %s", err, out)
	}
	u1 := CurrentUsage()
	if d := u1.SelfCPU - u0.SelfCPU; d < 100*time.Millisecond {
		t.Errorf("self CPU grew by %v after a 200 ms busy loop", d)
	}
	if u1.ChildrenCPU <= u0.ChildrenCPU {
		t.Errorf("children CPU did not grow: %v → %v", u0.ChildrenCPU, u1.ChildrenCPU)
	}
	if u1.SelfMaxRSS < 64<<20 || u1.ChildrenMaxRSS <= 0 {
		t.Errorf("peak RSS self %d, children %d; want ≥ 64 MiB and > 0", u1.SelfMaxRSS, u1.ChildrenMaxRSS)
	}
	c := MeasureCost(u0, u1, time.Second, 0, 0)
	if c.VCPUSeconds < 0.1 || c.GBSeconds < 64.0/1024 || c.USD <= 0 {
		t.Errorf("cost %+v", c)
	}
	runtime.KeepAlive(buf)
	_ = x
}

// processCPU reads the process CPU clock (clock_gettime), a clock
// independent of getrusage, which CurrentUsage reads.
func processCPU(t *testing.T) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		t.Fatalf("clock_gettime: %v", err)
	}
	return time.Duration(ts.Nano())
}
