package runner

import (
	"context"
	"fmt"

	"github.com/tierflow/tierflow/jobs"
)

// InitReport is what Init made ready.
type InitReport struct {
	// LineageTable is the lineage store's table, once ready; "" when the
	// store needs none (a local lake).
	LineageTable string
	// Database is the catalog database, once ready.
	Database string
}

// Init creates what a job needs before its first run, in the lake OpenJob
// opened: on AWS the DynamoDB lineage table (on-demand), and the catalog
// database (on AWS in Glue). The report says what is ready, also when Init
// fails part way.
func Init(ctx context.Context, env *Env, spec *jobs.Spec) (InitReport, error) {
	var rep InitReport
	if t, ok := env.Lineage.(interface{ CreateTable(context.Context) error }); ok {
		if err := t.CreateTable(ctx); err != nil {
			return rep, fmt.Errorf("init: lineage table %s: %w", spec.AWS.LineageTable, err)
		}
		rep.LineageTable = spec.AWS.LineageTable
	}
	if err := env.Catalog.EnsureDatabase(ctx, spec.Database); err != nil {
		return rep, fmt.Errorf("init: catalog database %s: %w", spec.Database, err)
	}
	rep.Database = spec.Database
	return rep, nil
}
