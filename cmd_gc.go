package main

import (
	"fmt"
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
			spec, env, err := runner.OpenJob(c.Context, c.String("job"), c.String("lake"), logOf(c))
			if err != nil {
				return err
			}
			defer env.Close()
			dryRun := c.Bool("dry-run")
			rep, err := runner.GC(c.Context, env, spec, runner.GCOptions{Keep: c.Int("keep"), DryRun: dryRun, TempAge: c.Duration("temp-age")})
			if rep != nil {
				w, verb := c.App.Writer, "removed"
				if dryRun {
					verb = "would remove"
				}
				for _, p := range rep.Prefixes {
					fmt.Fprintf(w, "%s %s\n", verb, env.Storage.ObjectURI(p))
				}
				fmt.Fprintf(w, "gc %s %d run prefixes (%d objects) and %d abandoned temporary files or uploads\n", verb, len(rep.Prefixes), rep.Objects, rep.Temp)
			}
			return err
		},
	}
}
