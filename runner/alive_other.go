//go:build !unix

package runner

// processLiveness cannot check processes here: the lease decides.
func processLiveness(int) Liveness { return HolderUnknown }
