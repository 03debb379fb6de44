//go:build !unix

package runner

// CurrentUsage returns a zero Usage: resource usage is only read on Unix.
func CurrentUsage() Usage { return Usage{} }
