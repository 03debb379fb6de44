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

// A copied shipped job loads as the shipped one does.
func TestCopyShipped(t *testing.T) {
	dir := t.TempDir()
	p, err := CopyShipped(dir, "consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	copied, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Shipped("consumer-header")
	if err != nil {
		t.Fatal(err)
	}
	if copied.Name != want.Name || copied.Schema.Hash() != want.Schema.Hash() || strings.Join(copied.Source.Header, ",") != strings.Join(want.Source.Header, ",") {
		t.Errorf("the copy loads as %s with schema %s, want %s", copied.Name, copied.Schema.Hash(), want.Schema.Hash())
	}
	if _, err := CopyShipped(dir, "no-such-job"); err == nil {
		t.Error("copied a job that is not shipped")
	}
}
