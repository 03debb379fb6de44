package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// checkOutput refuses an --output the command does not have.
func checkOutput(cmd, output string) error {
	switch output {
	case "", "text", "json":
		return nil
	}
	return usageError{fmt.Errorf("%s: --output %q: use text or json", cmd, output)}
}

// writeJSON prints v as --output json does: indented, one document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// oneLineText folds text onto one line.
func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }
