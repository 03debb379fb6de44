package athena

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/storage"
)

// Prepared is a CTAS made ready for a runner that executes the statement
// itself (Step Functions' athena:startQueryExecution.sync): the scratch
// input tables are registered, the statement rendered. It is plain data so
// it can be handed from one process to the next; Collect or Discard ends it.
type Prepared struct {
	Query       string   `json:"query"`    // the CREATE TABLE … AS statement
	Location    string   `json:"location"` // external_location
	Target      string   `json:"target"`   // db.table of the scratch table Athena creates
	Scratch     []string `json:"scratch"`  // db.table of the input scratch tables
	InputTables []string `json:"input_tables"`
}

// Prepare does everything CreateTableAs does before starting the query.
func (e *Engine) Prepare(ctx context.Context, c engine.CTAS) (Prepared, error) {
	p, err := e.plan(c)
	if err != nil {
		return Prepared{}, fmt.Errorf("athena: prepare %s.%s: %w", c.Database, c.Table, err)
	}
	if _, err := e.checkLocation(ctx, c.Location); err != nil {
		return Prepared{}, fmt.Errorf("athena: prepare %s.%s: %w", c.Database, c.Table, err)
	}
	if err := e.cat.DeleteTable(ctx, p.target.db, p.target.table); err != nil {
		return Prepared{}, fmt.Errorf("athena: dropping leftover scratch table %s: %w", p.target, err)
	}
	out := Prepared{Query: p.sql, Location: c.Location, Target: p.target.String(), InputTables: p.inputTables}
	for _, in := range p.inputs {
		out.Scratch = append(out.Scratch, in.to.String())
	}
	if err := e.stageInputs(ctx, p); err != nil {
		return out, err
	}
	return out, nil
}

// Collect reads back a prepared CTAS that ran: the columns Athena
// registered for its scratch table and the files under its location; then
// it drops the scratch tables. Rows, QueryID and statistics are those the
// runner of the statement reports (pass them in res).
func (e *Engine) Collect(ctx context.Context, p Prepared, res engine.Result) (engine.Result, error) {
	db, table, _ := strings.Cut(p.Target, ".")
	t, err := e.cat.GetTable(ctx, db, table)
	if err != nil {
		return res, fmt.Errorf("athena: reading the schema Athena registered for %s: %w", p.Target, err)
	}
	res.SQL, res.InputTables = p.Query, p.InputTables
	res.Columns = append(slices.Clone(t.StorageDescriptor.Columns), t.PartitionKeys...)
	res.CostUSD = Cost(res.DataScannedBytes)
	if st := e.opts.Storage; st != nil {
		key := strings.Trim(strings.TrimPrefix(p.Location, st.URI()), "/")
		res.Files, res.Bytes = nil, 0
		err := st.List(ctx, key+"/", func(o storage.Object) error {
			res.Files = append(res.Files, st.ObjectURI(o.Key))
			res.Bytes += o.Size
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("athena: listing the output under %s: %w", p.Location, err)
		}
	}
	return res, e.Discard(ctx, p)
}

// Discard drops a prepared CTAS's scratch tables (its target included).
func (e *Engine) Discard(ctx context.Context, p Prepared) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for _, name := range append(slices.Clone(p.Scratch), p.Target) {
		db, table, _ := strings.Cut(name, ".")
		if err := e.cat.DeleteTable(ctx, db, table); err != nil {
			return fmt.Errorf("athena: dropping scratch table %s: %w", name, err)
		}
	}
	return nil
}
