package runner

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tierflow/tierflow/container"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/storage"
)

// publish writes the run's publish plan, commits (the one write that
// makes the run what readers see), then rolls the catalog forward and
// records lineage. Before the commit a failure leaves nothing visible;
// after it, failures are logged as follow-ups that the next command (or
// `tierflow repair`) finishes, and the run has published.
func (j *job) publish(ctx context.Context) (lineage.Stage, error) {
	st := lineage.Stage{}
	plan := &publishPlan{Run: j.run.ID, Month: j.plan.Month, Edges: j.edges()}
	for _, s := range j.staged {
		plan.Tables = append(plan.Tables, planEntry{Table: s.table, Partition: s.partition})
		plan.Outputs = append(plan.Outputs, lineage.Dataset{
			URI: PartitionURI(s.table.Database, s.table.Name, j.plan.Month), Kind: "partition",
			Tier: tierOf(s.prefix), Rows: s.rows,
		})
	}
	j.run.Outputs = plan.Outputs
	record := j.completeRecord()
	plan.Record = &record
	if err := putJSON(ctx, j.env.Storage, planKey(j.spec, j.run.ID), plan); err != nil {
		return st, fmt.Errorf("publish plan: %w", err)
	}
	if err := j.keepPublished(ctx); err != nil {
		return st, err
	}
	if err := j.commit(ctx); err != nil {
		return st, err
	}
	// Committed. Nothing below may undo it; what fails is repaired later,
	// in the same order: the run's record says COMPLETE before any
	// partition points at it, and the roll-forward is marked done last.
	ctx = context.WithoutCancel(ctx)
	if err := j.env.Lineage.FinishRun(ctx, j.completeRecord()); err != nil {
		j.followUp("recording the run as complete", err)
		return st, nil
	}
	if err := j.env.Lineage.AddEdges(ctx, plan.Edges); err != nil {
		j.followUp("recording lineage edges", fmt.Errorf("edges: %w", err))
		return st, nil
	}
	n, err := rollForward(ctx, j.env, j.spec, plan, j.ex.Token, true)
	st.Files = n
	if err != nil && !errors.Is(err, errSuperseded) {
		j.followUp("switching the catalog partitions", err)
	}
	return st, nil
}

// completeRecord is the run's record once committed: COMPLETE, published.
func (j *job) completeRecord() lineage.Run {
	run := *j.run
	run.Status, run.Published, run.Error, run.Ended = lineage.StatusComplete, true, "", time.Now()
	return run
}

// followUp records a failure after the commit: the month is published, and
// the next command that touches it finishes the step.
func (j *job) followUp(what string, err error) {
	j.pending = append(j.pending, fmt.Errorf("%s: %w", what, err))
	j.log.Warn().Err(err).Str("step", what).Msg("the run is committed; this step failed and is finished by the next command (or tierflow repair)")
}

// verifyManifest checks a part's invariant (a part that succeeded processed
// every row it read) and that every file it lists is stored with the size
// it recorded.
func verifyManifest(ctx context.Context, st storage.Storage, m *container.Manifest) error {
	if m.RowsNotProcessed != 0 || m.RowsRead != m.RowsWritten+m.RowsRejected {
		return fmt.Errorf("part %s: rows read %d != rows written %d + rows rejected %d (%d not processed)", m.Part, m.RowsRead, m.RowsWritten, m.RowsRejected, m.RowsNotProcessed)
	}
	var rows int64
	for _, f := range m.Files {
		o, err := st.Stat(ctx, f.Key)
		if err != nil {
			return fmt.Errorf("part %s: output %s: %w", m.Part, f.Key, err)
		}
		if o.Size != f.Bytes {
			return fmt.Errorf("part %s: output %s has %d bytes, manifest says %d", m.Part, f.Key, o.Size, f.Bytes)
		}
		rows += f.Rows
	}
	if rows != m.RowsWritten {
		return fmt.Errorf("part %s: files hold %d rows, manifest says %d written", m.Part, rows, m.RowsWritten)
	}
	return nil
}

// PartitionURI names a catalog partition in lineage.
func PartitionURI(db, table, month string) string {
	return fmt.Sprintf("catalog://%s.%s/month=%s", db, table, month)
}

// TableURI names a catalog table in lineage.
func TableURI(db, table string) string {
	return fmt.Sprintf("catalog://%s.%s", db, table)
}

func tierOf(prefix string) int {
	if strings.HasPrefix(prefix, "tier3/") {
		return 3
	}
	return 2
}

// edges is the run's lineage: intake → tier 1 → tier-2 files → partition →
// table, and source partitions → tier-3 files → partition → table.
func (j *job) edges() []lineage.Edge {
	st, id := j.env.Storage, j.run.ID
	var es []lineage.Edge
	add := func(from, to, transform string) {
		es = append(es, lineage.Edge{From: from, To: to, RunID: id, Transform: transform})
	}
	tier1 := map[string]string{} // part name → tier-1 URI
	for _, o := range j.tier1 {
		add(st.ObjectURI(o.part.Key), st.ObjectURI(o.key), "pristine")
		tier1[o.part.Name] = st.ObjectURI(o.key)
	}
	db, month := j.spec.Database, j.plan.Month
	t2 := PartitionURI(db, j.spec.Output.Table, month)
	for _, m := range j.res.Manifests {
		for _, f := range m.Files {
			add(tier1[m.Part], st.ObjectURI(f.Key), "convert")
			add(st.ObjectURI(f.Key), t2, "publish")
		}
	}
	add(t2, TableURI(db, j.spec.Output.Table), "publish")
	for i, r := range j.res.Derived {
		d := j.spec.Derived[i]
		p := PartitionURI(db, d.Table, month)
		for _, in := range r.InputTables {
			src := PartitionURI(db, in[strings.LastIndex(in, ".")+1:], month)
			for _, f := range r.Files {
				add(src, f, "derive")
			}
		}
		for _, f := range r.Files {
			add(f, p, "publish")
		}
		add(p, TableURI(db, d.Table), "publish")
	}
	return es
}

// mentions reports whether sql names table as a whole identifier.
func mentions(sql, table string) bool {
	re := regexp.MustCompile(`(?i)(^|[^a-z0-9_])"?` + regexp.QuoteMeta(table) + `"?([^a-z0-9_]|$)`)
	return re.MatchString(sql)
}
