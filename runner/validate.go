package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine/athena"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/engine/sqltok"
	"github.com/tierflow/tierflow/lake/storage"
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
// to later ones), kept to what Athena (Trino) also runs (duckOnly, LIMIT
// before OFFSET), and rendered as the CTAS Athena would receive (its
// engine's own checks). There is no Trino grammar in Go: the tests parse
// the rendered statements with one (dt-sql-parser) and check that these
// checks refuse what it refuses. Loading the
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
		depth, limit := 0, map[int]bool{} // a LIMIT seen at each parenthesis depth
		for i, t := range toks {
			for _, c := range duckOnly {
				if (c.seq == "::" && t.Kind == sqltok.Punct && t.Text == ":" && i+1 < len(toks) && toks[i+1].Text == ":" && toks[i+1].Start == t.End) || t.Is(c.seq) {
					at(d, "uses %s, which Athena does not run", c.say)
				}
			}
			switch {
			case t.Kind == sqltok.Punct && t.Text == "(":
				depth++
				limit[depth] = false
			case t.Kind == sqltok.Punct && t.Text == ")":
				depth--
			case t.Is("LIMIT"):
				limit[depth] = true
			case t.Is("OFFSET") && limit[depth]:
				at(d, "uses LIMIT n OFFSET m, which Athena does not run (Trino: OFFSET m LIMIT n)")
			}
		}
	}
	for i, st := range AthenaStatements(spec) {
		if st.Err != nil {
			at(spec.Derived[i], "Athena would refuse it: %v", strings.TrimPrefix(st.Err.Error(), "athena: "))
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

// AthenaStatement is the statement Athena receives for one derived table.
type AthenaStatement struct {
	Table string
	SQL   string // CREATE TABLE ... AS, as the engine sends it
	Err   error  // why the engine would not send it
}

// validateMonth and validateRun stand in for a run's month and id in the
// statements validate renders: only names and locations depend on them.
const (
	validateMonth = "2000-01"
	validateRun   = "validate"
)

// AthenaStatements renders, for each derived table of spec in order, the
// CREATE TABLE ... AS statement a run's derive sends to Athena: the same
// CTAS (derivedCTAS) and the same rendering (the Athena engine's), for a
// run of a stand-in month on the job's lake (an S3 stand-in when the job's
// is local). Each earlier derived table is an input of the later ones that
// mention it, as in a run. No request is made.
func AthenaStatements(spec *jobs.Spec) []AthenaStatement {
	root := spec.Lake
	if !strings.HasPrefix(strings.ToLower(root), "s3://") {
		root = "s3://tierflow-validate/" + spec.Name
	}
	lake := lakeURIs{root: strings.TrimSuffix(root, "/")}
	layout := jobs.Layout{Spec: spec}
	t2 := Tier2Table(lake, spec)
	inputs := []staged{{table: t2, partition: MonthPartition(t2, validateMonth, DirURI(lake, layout.Tier2Prefix(validateMonth, validateRun)), validateRun)}}
	eng := athena.New(aws.Config{}, nil, athena.Options{})
	var out []AthenaStatement
	for _, d := range spec.Derived {
		location := DirURI(lake, layout.Tier3Prefix(d.Table, validateMonth, validateRun))
		st := AthenaStatement{Table: d.Table}
		c, err := derivedCTAS(spec, d, inputs, location)
		if err == nil {
			st.SQL, err = eng.Statement(c)
		}
		st.Err = err
		out = append(out, st)
		t3 := DerivedTable(lake, spec, d, nil)
		inputs = append(inputs, staged{table: t3, partition: MonthPartition(t3, validateMonth, location, validateRun)})
	}
	return out
}

// lakeURIs names a lake's objects without reaching it: rendering a
// statement needs only their URIs.
type lakeURIs struct {
	storage.Storage // nil: only URI and ObjectURI are called
	root            string
}

func (l lakeURIs) URI() string                 { return l.root }
func (l lakeURIs) ObjectURI(key string) string { return l.root + "/" + key }

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
