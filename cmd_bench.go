//go:build cgo && !noduckdb

package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/bench"
)

// benchChildCommand runs one engine of `tierflow bench` in a child process
// (bench re-executes this binary with it); hidden from help.
func benchChildCommand() *cli.Command {
	return &cli.Command{
		Name:   bench.ChildArg,
		Hidden: true,
		Usage:  "internal: one measurement of tierflow bench, run in a child process",
		Action: func(c *cli.Context) error {
			task, ok := os.LookupEnv(bench.ChildEnv)
			if !ok {
				return fmt.Errorf("%s is run by tierflow bench, with %s set", bench.ChildArg, bench.ChildEnv)
			}
			if code := bench.ChildMain(task, c.App.Writer, c.App.ErrWriter); code != 0 {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}

// benchCommand is `tierflow bench`; it needs DuckDB (the peer it measures
// against), so the container build (noduckdb) has a stub instead.
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:      "bench",
		Usage:     "benchmark: tierflow's converter vs DuckDB and gzip -dc, the case study's query table, and Athena CTAS",
		ArgsUsage: "[convert|queries|athena ...] (default: all three sections)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Usage: "work `DIR` for generated data and outputs (default: a temp dir)"},
			&cli.Int64Flag{Name: "rows", Value: 1_000_000, Usage: "rows of the generated part (406 columns)"},
			&cli.IntFlag{Name: "runs", Value: 3, Usage: "runs of each measurement; medians are reported"},
			&cli.IntFlag{Name: "parts", Value: 1, Usage: "gzip parts of the queries section's month"},
			&cli.BoolFlag{Name: "athena", Usage: "run the CTAS comparison on real Athena (needs AWS credentials)"},
			&cli.StringFlag{Name: "out", Usage: "`DIR` for report.json, report.md and the charts (default: DIR/bench-out)"},
		},
		Action: func(c *cli.Context) error {
			for _, a := range c.Args().Slice() {
				if strings.HasPrefix(a, "-") {
					return fmt.Errorf("bench: %s: flags go before the sections, e.g. tierflow bench --rows 200000 convert", a)
				}
			}
			only, err := bench.ParseOnly(strings.Join(c.Args().Slice(), ","))
			if err != nil {
				return err
			}
			// The conversion section runs this very binary's convert
			// command, as a user runs it.
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: locating this binary: %w", err)
			}
			_, err = bench.Run(c.Context, bench.Options{
				Dir: c.String("dir"), Rows: c.Int64("rows"), Runs: c.Int("runs"), Parts: c.Int("parts"),
				Only: only, Athena: c.Bool("athena"), OutDir: c.String("out"), Log: logOf(c), CLI: self,
			}, c.App.Writer)
			return err
		},
	}
}
