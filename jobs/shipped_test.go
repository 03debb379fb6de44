package jobs

import (
	"errors"
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
	// Text: the message a user reads lists the shipped jobs.
	if _, err := Shipped("no-such-job"); !errors.Is(err, ErrNotShipped) || !strings.Contains(err.Error(), "consumer-header") {
		t.Errorf("unknown shipped job: %v, want ErrNotShipped listing the shipped jobs", err)
	}
	if _, err := Shipped("consumer-header.schema"); err == nil {
		t.Error("a schema file is not a job")
	}
}
