//go:build !unix

package bench

import "os"

// maxRSS is 0 where the kernel does not report a child's peak RSS.
func maxRSS(*os.ProcessState) int64 { return 0 }

// flushDirty is a no-op where there is no sync(2).
func flushDirty() {}
