package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/engine/sqltok"
)

// duckOnly are constructs DuckDB accepts and Athena (Trino) refuses: a
// derived table's SQL must keep to the common subset, since it runs on
// DuckDB locally and on Athena on AWS.
var duckOnly = []struct{ seq, say string }{
	{"::", "the :: cast (Trino has only CAST(x AS type))"},
	{"ILIKE", "ILIKE (Trino: lower(x) LIKE lower(y))"},
	{"QUALIFY", "QUALIFY (Trino: filter a window in an outer SELECT)"},
	{"EXCLUDE", "SELECT * EXCLUDE (Trino: list the columns)"},
}

// ValidateDerived checks every derived table's SQL before anything runs:
// bound against empty tables shaped like the job's (DuckDB: tables,
// columns, functions and types resolve; earlier derived tables are visible
// to later ones), and kept to what Athena (Trino) also runs. Loading the
// spec has already checked the spec, schema, header sample and PII policy.
// It returns jobs.Errors naming spec:line, or nil; bound reports whether
// the DuckDB binding ran (not in a build without DuckDB).
func ValidateDerived(ctx context.Context, spec *jobs.Spec) (bound bool, err error) {
	var problems jobs.Errors
	at := func(d jobs.Derived, format string, args ...any) {
		problems = append(problems, jobs.Problem{File: spec.Path, Line: d.Line, Msg: fmt.Sprintf("derived table %s: ", d.Table) + fmt.Sprintf(format, args...)})
	}
	var stmts []duckdb.NamedSelect
	for _, d := range spec.Derived {
		stmts = append(stmts, duckdb.NamedSelect{Table: d.Table, SQL: d.SQL})
		toks, err := sqltok.Lex(d.SQL)
		if err != nil {
			at(d, "not Trino SQL: %v", err)
			continue
		}
		for i, t := range toks {
			for _, c := range duckOnly {
				if (c.seq == "::" && t.Kind == sqltok.Punct && t.Text == ":" && i+1 < len(toks) && toks[i+1].Text == ":" && toks[i+1].Start == t.End) || t.Is(c.seq) {
					at(d, "uses %s, which Athena does not run", c.say)
				}
			}
		}
	}
	cols := make([]catalog.Column, len(spec.Schema.Columns))
	for i, c := range spec.Schema.Columns {
		cols[i] = catalog.Column{Name: c.Name, Type: c.Type.String()}
	}
	tier2 := catalog.Table{Name: spec.Output.Table, PartitionKeys: []catalog.Column{MonthKey},
		StorageDescriptor: catalog.StorageDescriptor{Columns: cols}}
	errs, err := duckdb.BindSelects(ctx, spec.Database, []catalog.Table{tier2}, stmts)
	switch {
	case errors.Is(err, duckdb.ErrNoDuckDB):
	case err != nil:
		return false, err
	default:
		bound = true
		for i, e := range errs {
			if e != nil {
				at(spec.Derived[i], "%v", strings.TrimPrefix(e.Error(), "duckdb: "))
			}
		}
	}
	if len(problems) > 0 {
		return bound, invalidInput{problems}
	}
	return bound, nil
}

// Validate checks a job: spec, schema, header sample, PII policy and the
// derived tables' SQL. The view lists every problem, spec:line first; the
// spec is nil when it does not load. A job with problems is an
// invalid-input error.
func Validate(ctx context.Context, job string) (ValidateView, *jobs.Spec, error) {
	v := ValidateView{Job: job, Path: job, Problems: []ProblemView{}}
	spec, err := jobs.Open(job)
	if err == nil {
		v.Job, v.Path = spec.Name, spec.Path
		v.Bound, err = ValidateDerived(ctx, spec)
	}
	var probs jobs.Errors
	switch {
	case errors.As(err, &probs):
		v.Problems = problemViews(probs)
	case err != nil:
		v.Problems = []ProblemView{{File: job, Message: err.Error()}}
	}
	v.Valid = err == nil
	if err != nil {
		return v, spec, invalidInput{err}
	}
	return v, spec, nil
}
