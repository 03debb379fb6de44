//go:build cgo && !noduckdb

package athena_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsathena "github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/parquet-go/parquet-go"

	"github.com/tierflow/tierflow/lake/awsfake"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/glue"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/engine/athena"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/engine/enginetest"
	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// TestConformance runs the engine suite against athena.Engine on the fake:
// the Glue catalog is the fake's, and the fake's Athena executes each CTAS
// it is sent by handing the parsed statement (target, properties, SELECT)
// to the DuckDB engine, which reads the same Glue catalog and writes under
// the same file:// location. So the Athena side — rendering, token,
// polling, statistics, scratch tables, columns read back from Glue, file
// listing, location checks — runs for real; only the SQL engine is DuckDB.
func TestConformance(t *testing.T) {
	enginetest.Run(t, enginetest.Harness{
		New: func(t *testing.T) (engine.Engine, catalog.Catalog, storage.Storage) {
			_, _, cat, st, eng := duckAthena(t)
			return eng, cat, st
		},
	})
}

// duckAthena is an Athena engine on the fake whose queries the DuckDB
// engine runs, over moto's Glue (a fresh account, reached through the
// fake's server) and a fresh file:// lake.
func duckAthena(t *testing.T) (*awsfake.Server, *awsfake.Athena, catalog.Catalog, *file.Store, *athena.Engine) {
	t.Helper()
	srv, acct := awsfake.OnMoto(t)
	fake := awsfake.NewAthena(srv, awsglue.NewFromConfig(acct.Config))
	fake.AllowLocationSchemes("file")
	cat := glue.New(srv.Config(), glue.Options{})
	st, err := file.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	duck, err := duckdb.New(context.Background(), cat, st, duckdb.Options{Threads: 2, MemoryLimit: "1GB"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { duck.Close() })
	fake.SetExecutor(duckExecutor(fake, duck, st))
	eng := athena.New(srv.Config(), cat, athena.Options{
		OutputLocation: "s3://tierflow-results/athena/",
		PollMin:        time.Millisecond, PollMax: 20 * time.Millisecond,
		Storage: st,
	})
	return srv, fake, cat, st, eng
}

// tableNames lists a database's tables in the fake's Glue, sorted.
func tableNames(t *testing.T, fake *awsfake.Athena, db string) []string {
	t.Helper()
	names, err := fake.TableNames(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// duckExecutor runs a CTAS with DuckDB. The tables it exposes are the Glue
// tables the SELECT names (Athena resolves every name against Glue; DuckDB
// needs them listed).
func duckExecutor(fake *awsfake.Athena, duck *duckdb.Engine, st storage.Storage) awsfake.Executor {
	return func(ctx context.Context, q awsfake.AthenaQuery) (awsfake.AthenaResult, error) {
		c := q.CTAS
		if c == nil {
			return awsfake.AthenaResult{}, &awsfake.QueryError{Category: 2, Type: 1000, Message: "the DuckDB executor runs CTAS statements only"}
		}
		var sources []string
		for _, db := range []string{c.Database, q.Database} {
			names, err := fake.TableNames(ctx, db)
			if err != nil {
				return awsfake.AthenaResult{}, err
			}
			for _, name := range names {
				if regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(name) + `\b`).MatchString(c.Select) {
					sources = append(sources, db+"."+name)
				}
			}
		}
		res, err := duck.CreateTableAs(ctx, engine.CTAS{
			Database: c.Database, Table: c.Table, SQL: c.Select, Location: c.ExternalLocation,
			Compression: c.WriteCompression, PartitionedBy: c.PartitionedBy,
			BucketedBy: c.BucketedBy, BucketCount: c.BucketCount, Sources: sources,
		})
		if err != nil {
			return awsfake.AthenaResult{}, &awsfake.QueryError{Category: 2, Type: 1000, Message: err.Error()} // Athena reports text
		}
		out := awsfake.AthenaResult{Rows: res.Rows, EngineMillis: max(res.EngineMillis, 1)}
		for _, col := range res.Columns {
			out.Columns = append(out.Columns, awsfake.Column{Name: col.Name, Type: col.Type})
		}
		// Partitions are the col=value directories below the location.
		seen := map[string]bool{}
		base := strings.TrimSuffix(c.ExternalLocation, "/") + "/"
		for _, f := range res.Files {
			rel, ok := strings.CutPrefix(f, base)
			if !ok {
				continue
			}
			dirs := strings.Split(rel, "/")
			dirs = dirs[:len(dirs)-1]
			if len(dirs) != len(c.PartitionedBy) || len(dirs) == 0 || seen[strings.Join(dirs, "/")] {
				continue
			}
			seen[strings.Join(dirs, "/")] = true
			var vals []string
			for _, d := range dirs {
				_, v, _ := strings.Cut(d, "=")
				vals = append(vals, v)
			}
			out.Partitions = append(out.Partitions, vals)
		}
		return out, nil
	}
}

// TestInputsEndToEnd runs CTAS statements over an Input (a staged,
// unpublished partition) through the fake and DuckDB: whether the SELECT
// names the table unqualified or qualified, only the staged rows are read.
func TestInputsEndToEnd(t *testing.T) {
	fx := newInputsFixture(t)
	ctx := t.Context()
	st, eng, people, staged := fx.st, fx.eng, fx.people, fx.staged
	for i, sql := range []string{
		`SELECT id, state, month FROM people`,
		`SELECT id, state, month FROM "lake"."people"`,
		`WITH people AS (SELECT * FROM lake.people WHERE month = '2020-03') SELECT id, state, month FROM people`,
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			c := engine.CTAS{
				Database: "lake", Table: "people_ca", SQL: sql, Sources: []string{"people"},
				Location: st.ObjectURI(fmt.Sprintf("out/%d", i)) + "/",
				Inputs:   []engine.Input{{Table: people, Partitions: []catalog.Partition{staged}}},
			}
			res, err := eng.CreateTableAs(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows != 5 {
				t.Errorf("%q read %d rows, want the 5 staged ones\n%s", sql, res.Rows, res.SQL)
			}
			if names := tableNames(t, fx.fake, "lake"); fmt.Sprint(names) != "[people]" {
				t.Errorf("tables left: %v", names)
			}
		})
	}

	t.Run("prepared", func(t *testing.T) { testPrepared(t, fx) })
}

// inputsFixture is an Athena engine over a Glue catalog (awsfake) and a
// local lake whose queries DuckDB runs, with a table people: 2020-02
// (3 rows) and 2020-03 run r1 (4 rows) published, 2020-03 run r2 (5 rows)
// staged.
type inputsFixture struct {
	srv    *awsfake.Server
	fake   *awsfake.Athena
	st     *file.Store
	eng    *athena.Engine
	people catalog.Table
	staged catalog.Partition
}

func newInputsFixture(t *testing.T) inputsFixture {
	ctx := t.Context()
	srv, fake, cat, st, eng := duckAthena(t)

	type row struct {
		ID    int64  `parquet:"id"`
		State string `parquet:"state"`
	}
	sd := func(loc string) catalog.StorageDescriptor {
		return catalog.StorageDescriptor{
			Columns:  []catalog.Column{{Name: "id", Type: "bigint"}, {Name: "state", Type: "string"}},
			Location: loc, NumberOfBuckets: -1,
		}
	}
	people := catalog.Table{Database: "lake", Name: "people", TableType: "EXTERNAL_TABLE",
		PartitionKeys: []catalog.Column{{Name: "month", Type: "string"}}, StorageDescriptor: sd(st.ObjectURI("people") + "/")}
	if err := cat.EnsureDatabase(ctx, "lake"); err != nil {
		t.Fatal(err)
	}
	if err := cat.PutTable(ctx, people); err != nil {
		t.Fatal(err)
	}
	write := func(dir string, n int) catalog.Partition {
		w, err := st.Create(ctx, dir+"/000000_0_part", storage.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pw := parquet.NewGenericWriter[row](w)
		for i := range n {
			if _, err := pw.Write([]row{{ID: int64(i), State: "CA"}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := pw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		return catalog.Partition{Database: "lake", Table: "people", StorageDescriptor: sd(st.ObjectURI(dir) + "/")}
	}
	// Published: 2020-02 (3 rows), 2020-03 run r1 (4 rows). Staged: 2020-03
	// run r2 (5 rows).
	for _, p := range []struct {
		month, run string
		rows       int
	}{{"2020-02", "r1", 3}, {"2020-03", "r1", 4}} {
		part := write("people/month="+p.month+"/run="+p.run, p.rows)
		part.Values = []string{p.month}
		if err := cat.PutPartition(ctx, part); err != nil {
			t.Fatal(err)
		}
	}
	staged := write("people/month=2020-03/run=r2", 5)
	staged.Values = []string{"2020-03"}
	return inputsFixture{srv: srv, fake: fake, st: st, eng: eng, people: people, staged: staged}
}

// testPrepared: Prepare, the query run elsewhere, Collect: what Step
// Functions does.
func testPrepared(t *testing.T, fx inputsFixture) {
	ctx := t.Context()
	srv, st, eng, people, staged := fx.srv, fx.st, fx.eng, fx.people, fx.staged
	c := engine.CTAS{
		Database: "lake", Table: "people_ca", SQL: `SELECT id, state, month FROM people`, Sources: []string{"people"},
		Location: st.ObjectURI("out/prepared") + "/",
		Inputs:   []engine.Input{{Table: people, Partitions: []catalog.Partition{staged}}},
	}
	p, err := eng.Prepare(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Scratch) != 1 || !strings.Contains(p.Query, p.Scratch[0][strings.Index(p.Scratch[0], ".")+1:]) {
		t.Fatalf("prepared %+v: the query must read the scratch input", p)
	}
	if names := tableNames(t, fx.fake, "lake"); len(names) != 2 {
		t.Fatalf("tables after Prepare: %v, want people and the scratch input", names)
	}
	client := awsathena.NewFromConfig(srv.Config())
	out, err := client.StartQueryExecution(ctx, &awsathena.StartQueryExecutionInput{
		QueryString: &p.Query, ResultConfiguration: &athenatypes.ResultConfiguration{OutputLocation: aws.String("s3://tierflow-results/athena/")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		qe, err := client.GetQueryExecution(ctx, &awsathena.GetQueryExecutionInput{QueryExecutionId: out.QueryExecutionId})
		if err != nil {
			t.Fatal(err)
		}
		if s := qe.QueryExecution.Status.State; s == athenatypes.QueryExecutionStateSucceeded {
			break
		} else if s == athenatypes.QueryExecutionStateFailed {
			t.Fatalf("query failed: %v", aws.ToString(qe.QueryExecution.Status.StateChangeReason))
		}
	}
	res, err := eng.Collect(ctx, p, engine.Result{Rows: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) == 0 || res.Bytes == 0 || len(res.Columns) != 3 {
		t.Errorf("collected %+v", res)
	}
	if names := tableNames(t, fx.fake, "lake"); fmt.Sprint(names) != "[people]" {
		t.Errorf("scratch tables left after Collect: %v", names)
	}
}
