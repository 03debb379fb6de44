//go:build !cgo || noduckdb

package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// benchCommand explains that this build has no benchmarks: they measure
// against DuckDB, which the static container build leaves out.
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "benchmarks (not in this build: it has no DuckDB)",
		Action: func(*cli.Context) error {
			return errors.New("bench: this binary was built without DuckDB (CGO_ENABLED=0 or -tags noduckdb); build with cgo to benchmark")
		},
	}
}

// benchChildCommand is bench's child entry point; without DuckDB there is
// no bench to run children for.
func benchChildCommand() *cli.Command {
	return &cli.Command{
		Name:   "bench-child",
		Hidden: true,
		Usage:  "internal: one measurement of tierflow bench, run in a child process",
		Action: func(*cli.Context) error {
			return errors.New("bench-child: this binary was built without DuckDB")
		},
	}
}
