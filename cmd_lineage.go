package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tierflow/tierflow/runner"
)

// lineageCommand is `tierflow lineage`: show upstream and downstream of a table, partition or object.
func lineageCommand(f commonFlags) *cli.Command {
	return &cli.Command{
		Name:      "lineage",
		Usage:     "show upstream and downstream of a table, partition or object",
		ArgsUsage: "DATASET (table, table/month=YYYY-MM, or an object URI)",
		Flags:     []cli.Flag{f.job, f.lake, outputFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("lineage: give exactly one DATASET, e.g. consumer_ca or consumer_ca/month=2020-03")
			}
			output := c.String("output")
			if err := checkOutput("lineage", output); err != nil {
				return err
			}
			g, err := runner.Lineage(c.Context, c.String("job"), c.String("lake"), c.Args().First(), logOf(c))
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(c.App.Writer, g.View())
			}
			printLineage(c.App.Writer, g)
			return nil
		},
	}
}

// printLineage prints the trees upstream and downstream of the dataset.
func printLineage(w io.Writer, g *runner.LineageGraph) {
	fmt.Fprintf(w, "%s\n\nupstream:\n", lineageLabel(g, g.Dataset))
	printLineageTree(w, g, g.Dataset, true, "  ", map[string]bool{})
	fmt.Fprintf(w, "\ndownstream:\n")
	printLineageTree(w, g, g.Dataset, false, "  ", map[string]bool{})
}

// lineageLabel is a dataset's URI with what its run recorded of it.
func lineageLabel(g *runner.LineageGraph, uri string) string {
	d, ok := g.Info[uri]
	if !ok {
		return uri
	}
	var extra []string
	if d.Tier > 0 {
		extra = append(extra, fmt.Sprintf("tier %d", d.Tier))
	}
	if d.Size > 0 {
		extra = append(extra, fmt.Sprintf("%d bytes", d.Size))
	}
	if d.Rows > 0 {
		extra = append(extra, fmt.Sprintf("%d rows", d.Rows))
	}
	if d.SHA256 != "" {
		extra = append(extra, "sha256 "+d.SHA256)
	}
	if len(extra) == 0 {
		return uri
	}
	return uri + "  (" + strings.Join(extra, ", ") + ")"
}

// printLineageTree writes the tree of edges from uri; many parallel files are folded
// into one line per transform so a 60-bucket table stays readable.
func printLineageTree(w io.Writer, g *runner.LineageGraph, uri string, up bool, indent string, seen map[string]bool) {
	es := g.Down[uri]
	if up {
		es = g.Up[uri]
	}
	if len(es) == 0 {
		return
	}
	const maxShown = 4
	for i, e := range es {
		next := e.To
		if up {
			next = e.From
		}
		if i == maxShown && len(es) > maxShown+1 {
			fmt.Fprintf(w, "%s… and %d more via %s (run %s)\n", indent, len(es)-maxShown, e.Transform, e.RunID)
			// Still walk past the folded files, once, so the tree reaches tier 1.
			for _, rest := range es[maxShown:] {
				n := rest.To
				if up {
					n = rest.From
				}
				if !seen[n] {
					seen[n] = true
					printFolded(w, g, n, up, indent+"  ", seen)
				}
			}
			return
		}
		fmt.Fprintf(w, "%s%s %s  [%s, run %s]\n", indent, arrow(up), lineageLabel(g, next), e.Transform, e.RunID)
		if !seen[next] {
			seen[next] = true
			printLineageTree(w, g, next, up, indent+"  ", seen)
		}
	}
}

// printFolded prints only the nodes reachable from a folded file that were
// not shown yet (e.g. the tier-1 object behind the 5th..60th bucket file).
func printFolded(w io.Writer, g *runner.LineageGraph, uri string, up bool, indent string, seen map[string]bool) {
	es := g.Down[uri]
	if up {
		es = g.Up[uri]
	}
	for _, e := range es {
		next := e.To
		if up {
			next = e.From
		}
		if seen[next] {
			continue
		}
		seen[next] = true
		fmt.Fprintf(w, "%s%s %s  [%s, run %s]\n", indent, arrow(up), lineageLabel(g, next), e.Transform, e.RunID)
		printLineageTree(w, g, next, up, indent+"  ", seen)
	}
}

func arrow(up bool) string {
	if up {
		return "←"
	}
	return "→"
}
