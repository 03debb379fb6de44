package main

import (
	"fmt"
	"runtime"

	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/runner"
)

// versionLine is what --version prints: the version, the build (commit)
// and its date, and the Go and DuckDB versions.
func versionLine() string {
	date := runner.BuildDate()
	if date == "" {
		date = "date unknown"
	}
	db := duckdb.Version()
	if db == "" {
		db = "none (built without DuckDB)"
	}
	return fmt.Sprintf("tierflow %s (build %s, %s) %s duckdb %s", runner.Version, runner.CodeVersion(), date, runtime.Version(), db)
}
