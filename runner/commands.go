package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/jobs/synth"
	"github.com/tierflow/tierflow/lake/lineage"
)

// LoadJob loads a job spec from a file, or a shipped job by name (e.g.
// "consumer-header") when no such file exists.
func LoadJob(name string) (*jobs.Spec, error) {
	if _, err := os.Stat(name); err == nil || strings.ContainsAny(name, "/\\") || strings.HasSuffix(name, ".yaml") {
		return jobs.Load(name)
	}
	spec, err := jobs.Shipped(name)
	if err != nil {
		return nil, fmt.Errorf("job %q: no such file, and %w", name, err)
	}
	return spec, nil
}

// openJob loads the job and opens its lake, creating what a first run
// needs.
func openJob(ctx context.Context, job, lake string, log zerolog.Logger) (*jobs.Spec, *Env, error) {
	return openJobWith(ctx, job, lake, log, OpenEnv)
}

// openJobReadOnly loads the job and opens its lake, which must exist.
func openJobReadOnly(ctx context.Context, job, lake string, log zerolog.Logger) (*jobs.Spec, *Env, error) {
	return openJobWith(ctx, job, lake, log, OpenExistingEnv)
}

func openJobWith(ctx context.Context, job, lake string, log zerolog.Logger,
	open func(context.Context, *jobs.Spec, string, zerolog.Logger) (*Env, error)) (*jobs.Spec, *Env, error) {
	spec, err := LoadJob(job)
	if err != nil {
		return nil, nil, invalidInput{err}
	}
	uri, err := LakeURI(spec, lake)
	if err != nil {
		return nil, nil, invalidInput{err}
	}
	env, err := open(ctx, spec, uri, log)
	if err != nil {
		return nil, nil, err
	}
	return spec, env, nil
}

// GenOptions are the gen command's.
type GenOptions struct {
	Job, Lake, Month string
	Rows             int64
	Parts            int
	Seed             int64
	Log              zerolog.Logger
	Stdout           io.Writer
}

// Gen writes a synthetic month into the job's intake location.
func Gen(ctx context.Context, o GenOptions) error {
	if _, err := jobs.ParseMonth(o.Month); err != nil {
		return err
	}
	spec, env, err := openJob(ctx, o.Job, o.Lake, o.Log)
	if err != nil {
		return err
	}
	defer env.Close()
	t0 := time.Now()
	objs, err := synth.Generate(ctx, env.Storage, spec, synth.Options{Rows: o.Rows, Parts: o.Parts, Seed: o.Seed, Month: o.Month})
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	var size int64
	for _, ob := range objs {
		size += ob.Size
		fmt.Fprintln(o.Stdout, env.Storage.ObjectURI(ob.Key))
	}
	o.Log.Info().Int64("rows", o.Rows).Int("parts", len(objs)).Int64("bytes", size).Float64("wall_s", time.Since(t0).Seconds()).Msg("synthetic month written")
	return nil
}

// RunCommandOptions are the run command's.
type RunCommandOptions struct {
	Job, Lake, Month string
	From, To         string // a backfill: every month from..to, in order
	Force            bool
	// KeepGoing runs the other months of a backfill after one fails;
	// the command still fails, naming every month that did.
	KeepGoing bool
	Log       zerolog.Logger
	Stdout    io.Writer
	// Console, when a terminal, shows each month's progress above the
	// log lines it carries.
	Console *Console
	// Output is "text" (a summary table per month) or "json" (one
	// RunSummaryView per month).
	Output string
}

// RunCommand runs a month and prints its summary.
func RunCommand(ctx context.Context, o RunCommandOptions) error {
	if err := checkOutput("run", o.Output); err != nil {
		return err
	}
	spec, env, err := openJob(ctx, o.Job, o.Lake, o.Log)
	if err != nil {
		return err
	}
	defer env.Close()
	months := []string{o.Month}
	switch {
	case o.Month != "" && (o.From != "" || o.To != ""):
		return errors.New("run: give --month, or --from and --to, not both")
	case o.From != "" || o.To != "":
		if months, err = Months(o.From, o.To); err != nil {
			return err
		}
	case o.Month == "":
		return errors.New("run: give --month M, or --from M1 --to M2")
	}
	// Locally the months of a backfill run one after the other: each run
	// already uses every core for its parts.
	var failed []string
	var errs []error
	for _, m := range months {
		res, err := runWithProgress(ctx, env, spec, Options{Month: m, Force: o.Force}, o.Console)
		switch {
		case o.Output == "json":
			if jerr := writeJSON(o.Stdout, runSummary(spec, m, res, err)); jerr != nil && err == nil {
				err = jerr
			}
		case res != nil:
			PrintSummary(o.Stdout, env, spec, res)
		}
		if err == nil {
			continue
		}
		err = fmt.Errorf("month %s: %w", m, err)
		if !o.KeepGoing || len(months) == 1 || ctx.Err() != nil {
			return err
		}
		failed = append(failed, m)
		errs = append(errs, err)
	}
	if len(failed) > 0 {
		if o.Output != "json" {
			fmt.Fprintf(o.Stdout, "backfill: %d of %d months failed: %s\n", len(failed), len(months), strings.Join(failed, ", "))
		}
		return fmt.Errorf("backfill: %d of %d months failed: %w", len(failed), len(months), errors.Join(errs...))
	}
	return nil
}

// runWithProgress runs and, when con is a terminal, shows the run's
// progress on it until the run ends (the area is gone before the summary).
func runWithProgress(ctx context.Context, env *Env, spec *jobs.Spec, opts Options, con *Console) (*Result, error) {
	if a := startProgress(con, "month "+opts.Month); a != nil {
		defer a.close()
		opts.Watch = a
	}
	return Run(ctx, env, spec, opts)
}

// runsWidth is the width `runs` fits in without --wide.
const runsWidth = 120

// RunsCommand lists runs: in runsWidth columns, the long error cut with
// "…", or every column and the whole error when wide.
func RunsCommand(ctx context.Context, job, lake, month string, wide bool, output string, log zerolog.Logger, w io.Writer) error {
	if err := checkOutput("runs", output); err != nil {
		return err
	}
	spec, env, err := openJobReadOnly(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	reps, err := RepairAll(ctx, env, spec)
	if err != nil {
		return err
	}
	published := map[string]string{} // month → its published run, as repair read it
	for _, r := range reps {
		published[r.Month] = r.Run
	}
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, month)
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	if output == "json" {
		v := RunsView{Job: spec.Name, Runs: []RunView{}}
		for _, r := range runs {
			v.Runs = append(v.Runs, runView(r, published[r.Month] == r.ID))
		}
		return writeJSON(w, v)
	}
	if len(runs) == 0 {
		fmt.Fprintf(w, "no runs of job %s yet\n", spec.Name)
		return nil
	}
	head := []string{"RUN", "MONTH", "STATUS", "PUB", "STARTED", "DURATION", "ROWS OUT", "REJECTED", "COST $", "ERROR"}
	if wide {
		head = []string{"RUN", "MONTH", "STATUS", "PUB", "STARTED", "DURATION", "ROWS IN", "ROWS OUT", "REJECTED", "VCPU-S", "GB-S", "ATHENA SCANNED", "S3 REQ", "COST $", "ERROR"}
	}
	rows := [][]string{head}
	for _, r := range runs {
		dur := "-"
		if !r.Ended.IsZero() {
			dur = r.Ended.Sub(r.Started).Round(10 * time.Millisecond).String()
		}
		mark := ""
		if published[r.Month] == r.ID {
			mark = "yes"
		}
		errText := oneLineText(r.Error)
		if wide {
			rows = append(rows, []string{r.ID, r.Month, r.Status, mark, r.Started.Local().Format("2006-01-02 15:04:05"), dur,
				fmt.Sprint(r.RowsIn), fmt.Sprint(r.RowsOut), fmt.Sprint(r.RowsRejected),
				fmt.Sprintf("%.1f", r.Cost.VCPUSeconds), fmt.Sprintf("%.1f", r.Cost.GBSeconds), humanBytes(r.Cost.AthenaScanned),
				fmt.Sprint(r.Cost.S3Requests), fmt.Sprintf("%.5f", r.Cost.USD), errText})
			continue
		}
		rows = append(rows, []string{r.ID, r.Month, r.Status, mark, r.Started.Local().Format("01-02 15:04"), dur,
			fmt.Sprint(r.RowsOut), fmt.Sprint(r.RowsRejected), fmt.Sprintf("%.4f", r.Cost.USD), errText})
	}
	widths := make([]int, len(head))
	for _, row := range rows {
		for i, c := range row[:len(row)-1] {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	used := 0
	for _, wd := range widths[:len(head)-1] {
		used += wd + 2
	}
	room := max(runsWidth-used, 12)
	for _, row := range rows {
		var b strings.Builder
		for i, c := range row[:len(row)-1] {
			fmt.Fprintf(&b, "%-*s  ", widths[i], c)
		}
		last := row[len(row)-1]
		if !wide {
			last = clip(last, room)
		}
		b.WriteString(last)
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	return nil
}

// oneLineText folds text onto one line.
func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }

// clip cuts s to n characters, the last one "…" when cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// LineageCommand prints the upstream and downstream of a dataset.
func LineageCommand(ctx context.Context, job, lake, dataset, output string, log zerolog.Logger, w io.Writer) error {
	if err := checkOutput("lineage", output); err != nil {
		return err
	}
	spec, env, err := openJobReadOnly(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	uri := datasetURI(spec, dataset)
	g, err := loadGraph(ctx, env, spec, uri)
	if err != nil {
		return err
	}
	if len(g.up[uri]) == 0 && len(g.down[uri]) == 0 {
		return fmt.Errorf("lineage: nothing recorded for %s (try a table such as %s, a partition such as %s/month=YYYY-MM, or an object URI)", uri, spec.Output.Table, spec.Output.Table)
	}
	if output == "json" {
		v := LineageView{Dataset: uri, Upstream: []lineage.Edge{}, Downstream: []lineage.Edge{}}
		for _, es := range g.up {
			v.Upstream = append(v.Upstream, es...)
		}
		for _, es := range g.down {
			v.Downstream = append(v.Downstream, es...)
		}
		for _, l := range [][]lineage.Edge{v.Upstream, v.Downstream} {
			sort.Slice(l, func(i, j int) bool { return l[i].From+"\x00"+l[i].To < l[j].From+"\x00"+l[j].To })
		}
		return writeJSON(w, v)
	}
	fmt.Fprintf(w, "%s\n\nupstream:\n", g.label(uri))
	g.print(w, uri, true, "  ", map[string]bool{})
	fmt.Fprintf(w, "\ndownstream:\n")
	g.print(w, uri, false, "  ", map[string]bool{})
	return nil
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

// graph is the lineage around one dataset, restricted to the runs that are
// published (or, for a dataset no published run touches, to all runs).
type graph struct {
	up, down map[string][]lineage.Edge
	info     map[string]lineage.Dataset
}

func loadGraph(ctx context.Context, env *Env, spec *jobs.Spec, start string) (*graph, error) {
	g := &graph{up: map[string][]lineage.Edge{}, down: map[string][]lineage.Edge{}, info: map[string]lineage.Dataset{}}
	runs, err := env.Lineage.ListRuns(ctx, spec.Name, "")
	if err != nil {
		return nil, err
	}
	published := map[string]bool{}
	for _, r := range runs {
		if id, err := env.Lineage.Published(ctx, spec.Name, r.Month); err == nil && id == r.ID {
			published[r.ID] = true
			for _, d := range append(append([]lineage.Dataset{}, r.Inputs...), r.Outputs...) {
				g.info[d.URI] = d
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
				g.up[uri] = append(g.up[uri], e)
			} else {
				g.down[uri] = append(g.down[uri], e)
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

func (g *graph) label(uri string) string {
	d, ok := g.info[uri]
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

// print writes the tree of edges from uri; many parallel files are folded
// into one line per transform so a 60-bucket table stays readable.
func (g *graph) print(w io.Writer, uri string, up bool, indent string, seen map[string]bool) {
	es := g.down[uri]
	if up {
		es = g.up[uri]
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
					g.printFolded(w, n, up, indent+"  ", seen)
				}
			}
			return
		}
		fmt.Fprintf(w, "%s%s %s  [%s, run %s]\n", indent, arrow(up), g.label(next), e.Transform, e.RunID)
		if !seen[next] {
			seen[next] = true
			g.print(w, next, up, indent+"  ", seen)
		}
	}
}

// printFolded prints only the nodes reachable from a folded file that were
// not shown yet (e.g. the tier-1 object behind the 5th..60th bucket file).
func (g *graph) printFolded(w io.Writer, uri string, up bool, indent string, seen map[string]bool) {
	es := g.down[uri]
	if up {
		es = g.up[uri]
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
		fmt.Fprintf(w, "%s%s %s  [%s, run %s]\n", indent, arrow(up), g.label(next), e.Transform, e.RunID)
		g.print(w, next, up, indent+"  ", seen)
	}
}

func arrow(up bool) string {
	if up {
		return "←"
	}
	return "→"
}

// RollbackCommand switches a month back to an earlier run.
func RollbackCommand(ctx context.Context, job, lake, month, to string, log zerolog.Logger, w io.Writer) error {
	spec, env, err := openJob(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	from, target, err := Rollback(ctx, env, spec, month, to)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "month %s of %s: published run %s → %s\n", month, spec.Name, from, target)
	return nil
}

// RepairCommand repairs one month ("" = every month with runs) and says
// what it did.
func RepairCommand(ctx context.Context, job, lake, month string, log zerolog.Logger, w io.Writer) error {
	spec, env, err := openJob(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	var reps []RepairReport
	if month != "" {
		if _, err := jobs.ParseMonth(month); err != nil {
			return err
		}
		rep, err := Repair(ctx, env, spec, month)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
	} else if reps, err = RepairAll(ctx, env, spec); err != nil {
		return err
	}
	fixed := 0
	for _, r := range reps {
		switch {
		case r.Run == "":
			fmt.Fprintf(w, "month %s: nothing published\n", r.Month)
		case r.Switched > 0 || r.Finished:
			fixed++
			fmt.Fprintf(w, "month %s: published run %s; switched %d partitions, completed its record: %v\n", r.Month, r.Run, r.Switched, r.Finished)
		default:
			fmt.Fprintf(w, "month %s: published run %s; nothing to repair\n", r.Month, r.Run)
		}
	}
	fmt.Fprintf(w, "repair: %d months checked, %d repaired\n", len(reps), fixed)
	return nil
}

// UnlockCommand releases a month whose holder is dead.
func UnlockCommand(ctx context.Context, job, lake, month string, log zerolog.Logger, w io.Writer) error {
	if _, err := jobs.ParseMonth(month); err != nil {
		return err
	}
	spec, env, err := openJob(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	h, err := Unlock(ctx, env, spec.Name, month, 2*time.Minute)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "month %s of %s: released the claim of run %s (pid %d on %s); the next command takes the month\n", month, spec.Name, runOfOwner(h.Owner), h.PID, h.Host)
	return nil
}

// GCCommand prunes old run prefixes and abandoned uploads.
func GCCommand(ctx context.Context, job, lake string, o GCOptions, log zerolog.Logger, w io.Writer) error {
	spec, env, err := openJob(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	rep, err := GC(ctx, env, spec, o)
	if rep != nil {
		verb := "removed"
		if o.DryRun {
			verb = "would remove"
		}
		for _, p := range rep.Prefixes {
			fmt.Fprintf(w, "%s %s\n", verb, env.Storage.ObjectURI(p))
		}
		fmt.Fprintf(w, "gc %s %d run prefixes (%d objects) and %d abandoned temporary files or uploads\n", verb, len(rep.Prefixes), rep.Objects, rep.Temp)
	}
	return err
}

// InitCommand creates what a job needs before its first run: on AWS the
// DynamoDB lineage table (on-demand) and the Glue database, after checking
// that the lake's bucket is reachable; locally the lake folders.
func InitCommand(ctx context.Context, job, lake string, log zerolog.Logger, w io.Writer) error {
	spec, env, err := openJob(ctx, job, lake, log)
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Fprintf(w, "lake %s: reachable\n", env.Storage.URI())
	if t, ok := env.Lineage.(interface{ CreateTable(context.Context) error }); ok {
		if err := t.CreateTable(ctx); err != nil {
			return fmt.Errorf("init: lineage table %s: %w", spec.AWS.LineageTable, err)
		}
		fmt.Fprintf(w, "lineage table %s: ready\n", spec.AWS.LineageTable)
	}
	if err := env.Catalog.EnsureDatabase(ctx, spec.Database); err != nil {
		return fmt.Errorf("init: catalog database %s: %w", spec.Database, err)
	}
	fmt.Fprintf(w, "catalog database %s: ready\n", spec.Database)
	return nil
}
