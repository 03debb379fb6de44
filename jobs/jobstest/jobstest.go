// Package jobstest holds what tests of several packages need of job
// specs. Only tests import it.
package jobstest

import (
	"os"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

// WithCompleteWhen writes the shipped job name into a test directory with
// source.complete_when set to cond (a YAML flow mapping, e.g.
// "{parts: 2}") and returns the spec's path.
func WithCompleteWhen(tb testing.TB, name, cond string) string {
	tb.Helper()
	p, err := jobs.CopyShipped(tb.TempDir(), name)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	spec := strings.Replace(string(b), "\nsource:\n", "\nsource:\n  complete_when: "+cond+"\n", 1)
	if spec == string(b) {
		tb.Fatalf("%s has no source: section to add complete_when to", p)
	}
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
