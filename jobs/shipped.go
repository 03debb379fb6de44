package jobs

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// shipped holds the jobs that come with tierflow, so `tierflow demo` and
// `--job consumer-header` work from any directory.
//
//go:embed *.yaml *.csv
var shipped embed.FS

// ErrNotShipped is returned (wrapped) by Shipped for a name no shipped job
// has; the message lists the shipped jobs.
var ErrNotShipped = errors.New("jobs: no shipped job")

// Shipped loads a job shipped with tierflow by name (e.g. "consumer-header").
func Shipped(name string) (*Spec, error) {
	file := name + ".yaml"
	if _, err := fs.Stat(shipped, file); err != nil || strings.HasSuffix(name, ".schema") {
		return nil, fmt.Errorf("%w named %q (shipped: %s)", ErrNotShipped, name, strings.Join(ShippedNames(), ", "))
	}
	return LoadFS(shipped, file)
}

// IsShippedName reports whether name names a shipped job rather than a
// spec file: no such file exists, and name has no path separator and no
// .yaml suffix.
func IsShippedName(name string) bool {
	if _, err := os.Stat(name); err == nil {
		return false
	}
	return !strings.ContainsAny(name, "/\\") && !strings.HasSuffix(name, ".yaml")
}

// Open loads a job spec from a file, or a shipped job by name (e.g.
// "consumer-header") when no such file exists.
func Open(name string) (*Spec, error) {
	if !IsShippedName(name) {
		return Load(name)
	}
	spec, err := Shipped(name)
	if err != nil {
		return nil, fmt.Errorf("job %q: no such file, and %w", name, err)
	}
	return spec, nil
}

// ShippedNames lists the shipped jobs.
func ShippedNames() []string {
	var names []string
	entries, _ := fs.ReadDir(shipped, ".")
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, ".schema.yaml") {
			names = append(names, strings.TrimSuffix(n, ".yaml"))
		}
	}
	sort.Strings(names)
	return names
}

// CopyShipped writes the shipped job name's spec and the files it
// references (schema, header sample) into dir, to be edited into a job of
// one's own, and returns the spec's path.
func CopyShipped(dir, name string) (string, error) {
	if _, err := Shipped(name); err != nil {
		return "", err
	}
	for _, f := range []string{name + ".yaml", name + ".schema.yaml", name + ".header.csv"} {
		b, err := fs.ReadFile(shipped, f)
		if errors.Is(err, fs.ErrNotExist) && f != name+".yaml" {
			continue // a job may write its schema inline and have no sample
		}
		if err != nil {
			return "", fmt.Errorf("shipped job %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			return "", fmt.Errorf("copy shipped job %s: %w", name, err)
		}
	}
	return filepath.Join(dir, name+".yaml"), nil
}
