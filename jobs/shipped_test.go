package jobs

import (
	"strings"
	"testing"
)

func TestShipped(t *testing.T) {
	spec, err := Shipped("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Schema.Columns) < 400 || spec.Output.Table != "consumer_header" {
		t.Errorf("shipped consumer-header: %d columns, table %q", len(spec.Schema.Columns), spec.Output.Table)
	}
	if _, err := Shipped("no-such-job"); err == nil || !strings.Contains(err.Error(), "consumer-header") {
		t.Errorf("unknown shipped job: %v, want an error listing the shipped jobs", err)
	}
	if _, err := Shipped("consumer-header.schema"); err == nil {
		t.Error("a schema file is not a job")
	}
}
