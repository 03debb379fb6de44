package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// validate --output json prints the problems of an invalid job and still
// exits 2; the text output says only what is valid.
func TestValidateOutputs(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := tierflow(t, dir, nil, "validate", "--job", filepath.Join(dir, "no-such-job.yaml"), "--output", "json")
	if code != 2 || !strings.Contains(out, `"valid": false`) || !strings.Contains(out, "no-such-job.yaml") {
		t.Errorf("validate -o json of a missing spec: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = tierflow(t, dir, nil, "validate", "--job", "consumer-header")
	if code != 0 || !strings.Contains(out, "job consumer-header (") || !strings.Contains(out, "header sample and PII policy valid") {
		t.Errorf("validate of the shipped job: exit %d\n%s\n%s", code, out, errOut)
	}
}
