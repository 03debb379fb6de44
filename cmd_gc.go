package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// gcCommand is `tierflow gc`: prune run prefixes that are neither published nor kept for rollback, and abandoned uploads.
func gcCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "prune run prefixes that are neither published nor kept for rollback, and abandoned uploads",
		Flags: []cli.Flag{f.job, f.lake,
			&cli.IntFlag{Name: "keep", Value: 1, Usage: "complete runs kept per month besides the published one and the one rollback would pick"},
			&cli.BoolFlag{Name: "dry-run", Usage: "list what would be removed"},
			&cli.DurationFlag{Name: "temp-age", Value: 24 * time.Hour, Usage: "remove temporary files and incomplete uploads older than this outside dead runs (a dead run's go at once; nothing is swept while a run is in flight)"},
		},
		Action: func(c *cli.Context) error {
			return runner.GCCommand(c.Context, c.String("job"), c.String("lake"), runner.GCOptions{
				Keep: c.Int("keep"), DryRun: c.Bool("dry-run"), TempAge: c.Duration("temp-age"),
			}, logOf(c), c.App.Writer)
		},
	}
}
