package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// projectFileName is the file that gives a project's defaults for --job
// and --lake, found by searching upward from the working directory (as git
// finds .git). Precedence: a flag, then TIERFLOW_JOB / TIERFLOW_LAKE, then
// this file, then the job's own lake.
const projectFileName = "tierflow.yaml"

// projectFile is tierflow.yaml. Relative paths in it are relative to the
// file.
type projectFile struct {
	Job  string `yaml:"job"`
	Lake string `yaml:"lake"`
}

// applyProjectFile sets TIERFLOW_JOB and TIERFLOW_LAKE from the nearest
// tierflow.yaml where the environment does not set them already.
func applyProjectFile(getenv func(string) string, setenv func(string, string) error) error {
	dir, err := os.Getwd()
	if err != nil {
		return nil // no working directory: no project
	}
	path, ok := findUp(dir, projectFileName)
	if !ok {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var pf projectFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil && !errors.Is(err, io.EOF) { // an empty file is fine
		return fmt.Errorf("%s: %w (it may set job and lake)", path, err)
	}
	base := filepath.Dir(path)
	if v := pf.Job; v != "" && getenv("TIERFLOW_JOB") == "" {
		if strings.ContainsAny(v, `/\`) || strings.HasSuffix(v, ".yaml") {
			v = relativeTo(base, v)
		}
		if err := setenv("TIERFLOW_JOB", v); err != nil {
			return err
		}
	}
	if v := pf.Lake; v != "" && getenv("TIERFLOW_LAKE") == "" {
		switch {
		case strings.HasPrefix(v, "file://"):
			v = "file://" + relativeTo(base, strings.TrimPrefix(v, "file://"))
		case !strings.Contains(v, "://"):
			v = relativeTo(base, v)
		}
		if err := setenv("TIERFLOW_LAKE", v); err != nil {
			return err
		}
	}
	return nil
}

func relativeTo(base, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// findUp looks for name in dir and its parents.
func findUp(dir, name string) (string, bool) {
	for {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}
