package runner

// Stage "derive": each derived table built from the staged partitions.

import (
	"context"
	"fmt"
	"time"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/lineage"
)

// derive builds each derived table from this run's staged (not yet
// published) partitions, so tier 2 and tier 3 publish together.
func (j *job) derive(ctx context.Context) (lineage.Stage, error) {
	st := lineage.Stage{}
	if len(j.spec.Derived) == 0 {
		return st, nil
	}
	eng, err := j.env.Engine(ctx)
	if err != nil {
		return st, fmt.Errorf("open query engine: %w", err)
	}
	for i, d := range j.spec.Derived {
		j.opts.watcher().Table(i, len(j.spec.Derived), d.Table)
		c, err := j.derivedCTAS(d)
		if err != nil {
			return st, err
		}
		t0 := time.Now()
		r, err := eng.CreateTableAs(ctx, c)
		if err != nil {
			j.olEmitDerived(ctx, d, t0, nil, nil, err)
			return st, fmt.Errorf("derived table %s: %w", d.Table, err)
		}
		j.log.Debug().Str("table", d.Table).Int64("rows", r.Rows).Int("files", len(r.Files)).Int64("bytes", r.Bytes).
			Int64("scanned_bytes", r.DataScannedBytes).Float64("wall_s", time.Since(t0).Seconds()).Str("query_id", r.QueryID).
			Str("sql", r.SQL).Msg("derived table built")
		if err := j.stageDerived(ctx, d, c, r, t0, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// derivedCTAS is the statement that builds d for this run: its SELECT over
// the staged partitions, written to the run's tier-3 prefix.
func (j *job) derivedCTAS(d jobs.Derived) (engine.CTAS, error) {
	return derivedCTAS(j.spec, d, j.staged, DirURI(j.env.Storage, j.layout.Tier3Prefix(d.Table, j.plan.Month, j.run.ID)))
}

// derivedCTAS is the statement that builds d at location from the staged
// partitions its SQL mentions (validate renders it for Athena too).
func derivedCTAS(spec *jobs.Spec, d jobs.Derived, staged []staged, location string) (engine.CTAS, error) {
	if err := checkAthenaWriters(d); err != nil {
		return engine.CTAS{}, err
	}
	var inputs []engine.Input
	for _, s := range staged {
		if mentions(d.SQL, s.table.Name) {
			inputs = append(inputs, engineInput(s.table, s.partition))
		}
	}
	return engine.CTAS{
		Database: spec.Database, Table: d.Table, SQL: d.SQL, Location: location,
		Format: d.Format, Compression: d.Compression,
		BucketedBy: d.BucketedBy, BucketCount: d.BucketCount, Inputs: inputs,
	}, nil
}

// stageDerived takes the result of d's CTAS (wherever it ran, started at
// started), applies the job's PII policy when d is not a PII table, and
// stages d's partition.
func (j *job) stageDerived(ctx context.Context, d jobs.Derived, c engine.CTAS, r engine.Result, started time.Time, st *lineage.Stage) error {
	pre := r.Columns
	if !d.PII && j.spec.PII.Set {
		// The job's PII policy rewrites the output before it is staged.
		if err := j.applyPII(ctx, d, &r); err != nil {
			err = fmt.Errorf("derived table %s: PII policy: %w", d.Table, err)
			j.olEmitDerived(ctx, d, started, nil, nil, err)
			return err
		}
	}
	j.res.Derived = append(j.res.Derived, r)
	st.RowsOut += r.Rows
	st.BytesIn += r.DataScannedBytes
	st.BytesOut += r.Bytes
	st.Files += len(r.Files)
	j.run.Cost.AthenaScanned += r.DataScannedBytes
	j.run.Cost.USD += r.CostUSD
	t := DerivedTable(j.env.Storage, j.spec, d, r.Columns)
	p := MonthPartition(t, j.plan.Month, c.Location, j.run.ID)
	j.olEmitDerived(ctx, d, started, pre, &r, nil)
	j.staged = append(j.staged, staged{table: t, partition: p, prefix: j.layout.Tier3Prefix(d.Table, j.plan.Month, j.run.ID), rows: r.Rows})
	return nil
}
