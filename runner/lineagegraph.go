package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
)

// Lineage loads the lineage around dataset (a table, table/month=M, or a
// URI) as the published runs recorded it.
func Lineage(ctx context.Context, job, lake, dataset string, log zerolog.Logger) (*LineageGraph, error) {
	spec, env, err := openJobReadOnly(ctx, job, lake, log)
	if err != nil {
		return nil, err
	}
	defer env.Close()
	uri := datasetURI(spec, dataset)
	g, err := loadGraph(ctx, env, spec, uri)
	if err != nil {
		return nil, err
	}
	if len(g.Up[uri]) == 0 && len(g.Down[uri]) == 0 {
		return nil, fmt.Errorf("lineage: nothing recorded for %s (try a table such as %s, a partition such as %s/month=YYYY-MM, or an object URI)", uri, spec.Output.Table, spec.Output.Table)
	}
	return g, nil
}

// View is the graph's edges, as --output json prints them.
func (g *LineageGraph) View() LineageView {
	v := LineageView{Dataset: g.Dataset, Upstream: []lineage.Edge{}, Downstream: []lineage.Edge{}}
	for _, es := range g.Up {
		v.Upstream = append(v.Upstream, es...)
	}
	for _, es := range g.Down {
		v.Downstream = append(v.Downstream, es...)
	}
	for _, l := range [][]lineage.Edge{v.Upstream, v.Downstream} {
		sort.Slice(l, func(i, j int) bool { return l[i].From+"\x00"+l[i].To < l[j].From+"\x00"+l[j].To })
	}
	return v
}

// datasetURI turns a user's DATASET argument into a lineage URI.
func datasetURI(spec *jobs.Spec, s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	table, part, _ := strings.Cut(s, "/")
	if !strings.Contains(table, ".") {
		table = spec.Database + "." + table
	}
	if part != "" {
		return "catalog://" + table + "/" + part
	}
	return "catalog://" + table
}

// LineageGraph is the lineage around one dataset, restricted to the runs
// that are published.
type LineageGraph struct {
	Dataset string // the lineage URI the walk started from
	// Up and Down are the edges into and out of each dataset on the walk,
	// sorted.
	Up, Down map[string][]lineage.Edge
	// Info is what the published runs recorded of each dataset.
	Info map[string]lineage.Dataset
}

func loadGraph(ctx context.Context, env *Env, spec *jobs.Spec, start string) (*LineageGraph, error) {
	g := &LineageGraph{Dataset: start, Up: map[string][]lineage.Edge{}, Down: map[string][]lineage.Edge{}, Info: map[string]lineage.Dataset{}}
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, "")
	if err != nil {
		return nil, err
	}
	published := map[string]bool{}
	for _, r := range runs {
		if id, err := env.Lineage.Published(ctx, spec.Name, r.Month); err == nil && id == r.ID {
			published[r.ID] = true
			for _, d := range append(append([]lineage.Dataset{}, r.Inputs...), r.Outputs...) {
				g.Info[d.URI] = d
			}
		}
	}
	keep := func(es []lineage.Edge) []lineage.Edge {
		var out []lineage.Edge
		for _, e := range es {
			if published[e.RunID] {
				out = append(out, e)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].From+out[i].To < out[j].From+out[j].To })
		return out
	}
	var walk func(uri string, up bool) error
	seen := map[string]bool{}
	walk = func(uri string, up bool) error {
		key := fmt.Sprint(up, uri)
		if seen[key] {
			return nil
		}
		seen[key] = true
		var es []lineage.Edge
		var err error
		if up {
			es, err = env.Lineage.Upstream(ctx, uri)
		} else {
			es, err = env.Lineage.Downstream(ctx, uri)
		}
		if err != nil {
			return err
		}
		es = keep(es)
		for _, e := range es {
			next := e.From
			if up {
				g.Up[uri] = append(g.Up[uri], e)
			} else {
				g.Down[uri] = append(g.Down[uri], e)
				next = e.To
			}
			if err := walk(next, up); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(start, true); err != nil {
		return nil, fmt.Errorf("upstream of %s: %w", start, err)
	}
	if err := walk(start, false); err != nil {
		return nil, fmt.Errorf("downstream of %s: %w", start, err)
	}
	return g, nil
}
