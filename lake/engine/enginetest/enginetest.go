// Package enginetest is the conformance suite every engine.Engine must pass
// (DuckDB locally, Athena on AWS). It writes small Parquet source tables
// through the harness's storage and catalog, runs CTAS statements, and
// checks the results by reading the written files back with parquet-go,
// never with the engine under test.
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/storage"
)

// Harness builds the engine under test.
type Harness struct {
	// New returns an engine plus the catalog and storage it reads from; the
	// suite writes source tables through them. The suite closes the engine.
	New func(t *testing.T) (engine.Engine, catalog.Catalog, storage.Storage)
	// Database is the catalog database the suite uses; "enginetest" if
	// empty. Tables and objects get a random suffix and are removed at the
	// end.
	Database string
}

// Run runs the suite. Source data: a table partitioned by month (three
// months of a few hundred rows with strings, ints, doubles, booleans,
// dates, decimals, timestamps and NULLs, plus one registered month with no
// files) and a small unpartitioned table.
func Run(t *testing.T, h Harness) {
	eng, cat, st := h.New(t)
	t.Cleanup(func() {
		if err := eng.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	db := h.Database
	if db == "" {
		db = "enginetest"
	}
	e := newEnv(t, st, cat, db)
	s := &suite{env: e, eng: eng}

	t.Run("SelectAll", s.selectAll)
	t.Run("PartitionFilter", s.partitionFilter)
	t.Run("ShadowingCTE", s.shadowingCTE)
	t.Run("Aggregate", s.aggregate)
	t.Run("JoinUnpartitioned", s.join)
	t.Run("UppercaseIdentifiers", s.uppercase)
	t.Run("EmptyPartition", s.emptyPartition)
	t.Run("PartitionedBy", s.partitionedBy)
	t.Run("PartitionColumnsNotLast", s.partitionNotLast)
	t.Run("RerunSameRowSet", s.rerun)
	t.Run("NonEmptyLocationRefused", s.nonEmptyLocation)
	t.Run("BadSQL", s.badSQL)
	t.Run("UnknownTable", s.unknownTable)
}

type suite struct {
	*env
	eng engine.Engine
}

// ctas builds a CTAS into a fresh location named after the test.
func (s *suite) ctas(t *testing.T, sql string, sources ...string) engine.CTAS {
	loc, _ := s.location(strings.ReplaceAll(t.Name(), "/", "_"))
	table := "out_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	// An engine that registers its result (Athena) leaves a table behind.
	t.Cleanup(func() {
		if err := s.cat.DeleteTable(context.Background(), s.db, table); err != nil {
			t.Logf("cleanup: delete table %s: %v", table, err)
		}
	})
	return engine.CTAS{
		Database: s.db,
		Table:    table,
		SQL:      s.sql(sql),
		Location: loc,
		Sources:  sources,
	}
}

// run runs c and checks everything about the result: row count, schema,
// files (listed and read back with parquet-go) and their rows.
func (s *suite) run(t *testing.T, c engine.CTAS, wantCols []catalog.Column, want []map[string]string) engine.Result {
	t.Helper()
	ctx := context.Background()
	res, err := s.eng.CreateTableAs(ctx, c)
	if err != nil {
		t.Fatalf("CreateTableAs: %v", err)
	}
	if res.Rows != int64(len(want)) {
		t.Errorf("Result.Rows = %d, want %d", res.Rows, len(want))
	}
	checkColumns(t, res.Columns, wantCols)
	if res.SQL == "" || res.QueryID == "" {
		t.Errorf("Result.SQL = %q, QueryID = %q: both must be set", res.SQL, res.QueryID)
	}
	for _, src := range c.Sources {
		name := src
		if !strings.Contains(name, ".") {
			name = s.db + "." + name
		}
		if !slices.Contains(res.InputTables, name) {
			t.Errorf("Result.InputTables = %v, missing %s", res.InputTables, name)
		}
	}

	// What is under the location is exactly what Result.Files says.
	keys, size, got := s.readBack(t, wantCols)
	var uris []string
	for _, k := range keys {
		uris = append(uris, s.st.ObjectURI(k))
	}
	files := slices.Clone(res.Files)
	sort.Strings(files)
	if !slices.Equal(files, uris) {
		t.Errorf("Result.Files = %v\nlocation holds  %v", res.Files, uris)
	}
	if res.Bytes != size {
		t.Errorf("Result.Bytes = %d, files hold %d bytes", res.Bytes, size)
	}
	if len(want) > 0 && len(keys) == 0 {
		t.Fatalf("no files written for %d rows", len(want))
	}
	compareRows(t, got, want, columnNames(wantCols))
	return res
}

// readBack lists the location of the test's CTAS and reads its rows with
// parquet-go, columns typed as in cols.
func (s *suite) readBack(t *testing.T, cols []catalog.Column) (keys []string, size int64, rows []map[string]string) {
	t.Helper()
	_, base := s.location(strings.ReplaceAll(t.Name(), "/", "_"))
	keys, size = s.list(t, base)
	types := map[string]string{}
	for _, c := range cols {
		types[c.Name] = c.Type
	}
	rows, err := readRows(context.Background(), s.st, base, keys, types)
	if err != nil {
		t.Fatalf("reading the result back: %v", err)
	}
	return keys, size, rows
}

// list returns the keys under base and their total size.
func (s *suite) list(t *testing.T, base string) ([]string, int64) {
	t.Helper()
	var keys []string
	var size int64
	err := s.st.List(context.Background(), base+"/", func(o storage.Object) error {
		keys = append(keys, o.Key)
		size += o.Size
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", base, err)
	}
	return keys, size
}

func (s *suite) selectAll(t *testing.T) {
	c := s.ctas(t, `SELECT * FROM {people}`, s.people)
	cols := append(slices.Clone(peopleColumns), catalog.Column{Name: "month", Type: "string"})
	s.run(t, c, cols, project(s.persons, columnNames(cols)...))
}

func (s *suite) partitionFilter(t *testing.T) {
	c := s.ctas(t, `SELECT id, state, balance FROM {people} WHERE month = '2020-02'`, s.people)
	want := project(s.filter(func(p person) bool { return p.month == "2020-02" }), "id", "state", "balance")
	s.run(t, c, cols("id bigint", "state string", "balance decimal(12,2)"), want)
}

// shadowingCTE is how the runner renders a derived table over one month: a
// CTE named like the table, reading the qualified table.
func (s *suite) shadowingCTE(t *testing.T) {
	c := s.ctas(t, `WITH {people} AS (SELECT * FROM "{db}"."{people}" WHERE "month" = '2020-03')
SELECT id, zip, score, active, born, seen FROM {people} WHERE state = 'CA'`, s.people)
	want := project(s.filter(func(p person) bool {
		return p.month == "2020-03" && p.State != nil && *p.State == "CA"
	}), "id", "zip", "score", "active", "born", "seen")
	if len(want) == 0 {
		t.Fatal("test data has no CA rows in 2020-03")
	}
	s.run(t, c, cols("id bigint", "zip int", "score double", "active boolean", "born date", "seen timestamp"), want)
}

func (s *suite) aggregate(t *testing.T) {
	c := s.ctas(t, `SELECT state, count(*) AS n, sum(zip) AS zips, sum(balance) AS total
FROM {people} GROUP BY state`, s.people)
	type agg struct {
		n, zips  int64
		total    *big.Int
		nonNulls int
	}
	groups := map[string]*agg{}
	for _, p := range s.persons {
		k := null
		if p.State != nil {
			k = *p.State
		}
		g := groups[k]
		if g == nil {
			g = &agg{total: new(big.Int)}
			groups[k] = g
		}
		g.n++
		g.zips += int64(p.Zip)
		if p.Balance != nil {
			g.total.Add(g.total, big.NewInt(*p.Balance))
			g.nonNulls++
		}
	}
	var want []map[string]string
	for k, g := range groups {
		total := null
		if g.nonNulls > 0 {
			total = formatDecimal(g.total, 2)
		}
		want = append(want, map[string]string{
			"state": k, "n": strconv.FormatInt(g.n, 10),
			"zips": strconv.FormatInt(g.zips, 10), "total": total,
		})
	}
	if _, ok := groups[null]; !ok {
		t.Fatal("test data has no NULL state")
	}
	s.run(t, c, cols("state string", "n bigint", "zips bigint", "total decimal(38,2)"), want)
}

func (s *suite) join(t *testing.T) {
	c := s.ctas(t, `SELECT p.id, s.name, p.month
FROM {people} p JOIN "{db}"."{states}" s ON p.state = s.state
WHERE p.active`, s.people, s.db+"."+s.states)
	var want []map[string]string
	for _, p := range s.persons {
		if !p.Active || p.State == nil {
			continue
		}
		name, ok := stateNames[*p.State]
		if !ok {
			continue
		}
		want = append(want, map[string]string{"id": strconv.FormatInt(p.ID, 10), "name": name, "month": p.month})
	}
	s.run(t, c, cols("id bigint", "name string", "month string"), want)
}

// uppercase: identifiers are case-insensitive and result names are
// written lowercase, as Athena does.
func (s *suite) uppercase(t *testing.T) {
	c := s.ctas(t, `SELECT ID AS Person_ID, STATE FROM {PEOPLE} WHERE MONTH = '2020-01'`, s.people)
	c.SQL = strings.ReplaceAll(c.SQL, "{PEOPLE}", strings.ToUpper(s.people))
	ps := s.filter(func(p person) bool { return p.month == "2020-01" })
	want := project(ps, "id", "state")
	for _, m := range want {
		m["person_id"] = m["id"]
		delete(m, "id")
	}
	s.run(t, c, cols("person_id bigint", "state string"), want)
}

// emptyPartition: a registered partition with no files reads as no rows.
func (s *suite) emptyPartition(t *testing.T) {
	t.Run("Count", func(t *testing.T) {
		c := s.ctas(t, `SELECT count(*) AS n FROM {people} WHERE month = '`+emptyMonth+`'`, s.people)
		s.run(t, c, cols("n bigint"), []map[string]string{{"n": "0"}})
	})
	t.Run("NoRows", func(t *testing.T) {
		c := s.ctas(t, `SELECT id, month FROM {people} WHERE month = '`+emptyMonth+`'`, s.people)
		s.run(t, c, cols("id bigint", "month string"), nil)
	})
	t.Run("AllMonths", func(t *testing.T) {
		c := s.ctas(t, `SELECT month, count(*) AS n FROM {people} GROUP BY month`, s.people)
		var want []map[string]string
		for i, m := range filledMonths {
			want = append(want, map[string]string{"month": m, "n": strconv.Itoa(rowsPerMonth[i])})
		}
		s.run(t, c, cols("month string", "n bigint"), want)
	})
}

// partitionedBy: the result is written in col=value directories, the
// partition column not inside the files.
func (s *suite) partitionedBy(t *testing.T) {
	c := s.ctas(t, `SELECT id, state, month FROM {people} WHERE month IN ('2020-01', '2020-03')`, s.people)
	c.PartitionedBy = []string{"month"}
	want := project(s.filter(func(p person) bool { return p.month == "2020-01" || p.month == "2020-03" }), "id", "state", "month")
	res := s.run(t, c, cols("id bigint", "state string", "month string"), want)
	_, base := s.location(strings.ReplaceAll(t.Name(), "/", "_"))
	dirs := map[string]bool{}
	for _, f := range res.Files {
		key, ok := strings.CutPrefix(f, s.st.ObjectURI(base)+"/")
		if !ok {
			t.Fatalf("file %s is not below the location", f)
		}
		dir, _, ok := strings.Cut(key, "/")
		if !ok {
			t.Errorf("file %s is not in a partition directory", f)
		}
		dirs[dir] = true
	}
	if !dirs["month=2020-01"] || !dirs["month=2020-03"] || len(dirs) != 2 {
		t.Errorf("partition directories %v, want month=2020-01 and month=2020-03", dirs)
	}
}

// rerun: two CTAS runs of the same SELECT over the same data write the
// same row set. That is all an engine promises: Athena picks the order and
// the file split (DuckDB's files are byte-identical, tested in its package).
// The SELECT groups, joins and partitions, where engines reorder rows.
func (s *suite) rerun(t *testing.T) {
	sql := `SELECT p.state, s.name, count(*) AS n, sum(p.balance) AS total, max(p.score) AS top, p.month
FROM {people} p LEFT JOIN "{db}"."{states}" s ON p.state = s.state
GROUP BY p.state, s.name, p.month`
	columns := cols("state string", "name string", "n bigint", "total decimal(38,2)", "top double", "month string")
	var runs [2][]map[string]string
	for i := range runs {
		t.Run(fmt.Sprintf("Run%d", i+1), func(t *testing.T) {
			c := s.ctas(t, sql, s.people, s.db+"."+s.states)
			c.PartitionedBy = []string{"month"}
			res, err := s.eng.CreateTableAs(context.Background(), c)
			if err != nil {
				t.Fatalf("CreateTableAs: %v", err)
			}
			checkColumns(t, res.Columns, columns)
			_, _, runs[i] = s.readBack(t, columns)
			if int64(len(runs[i])) != res.Rows || res.Rows == 0 {
				t.Fatalf("read back %d rows, Result.Rows = %d, want the same and some", len(runs[i]), res.Rows)
			}
		})
	}
	if t.Failed() {
		return
	}
	compareRows(t, runs[1], runs[0], columnNames(columns))
}

func (s *suite) partitionNotLast(t *testing.T) {
	c := s.ctas(t, `SELECT month, id FROM {people}`, s.people)
	c.PartitionedBy = []string{"month"}
	s.mustFail(t, c, "")
}

func (s *suite) nonEmptyLocation(t *testing.T) {
	c := s.ctas(t, `SELECT id FROM {people}`, s.people)
	_, base := s.location(strings.ReplaceAll(t.Name(), "/", "_"))
	putObject(t, s.st, base+"/existing.parquet", "someone else's data")
	_, err := s.eng.CreateTableAs(context.Background(), c)
	if !errors.Is(err, engine.ErrNotEmpty) {
		t.Fatalf("CreateTableAs into a non-empty location: %v, want engine.ErrNotEmpty", err)
	}
	t.Logf("error (expected): %v", err)
	keys, _ := s.list(t, base)
	if !slices.Equal(keys, []string{base + "/existing.parquet"}) {
		t.Errorf("location now holds %v, want only the existing object", keys)
	}
	rc, err := s.st.Open(context.Background(), base+"/existing.parquet")
	if err != nil {
		t.Fatalf("existing object: %v", err)
	}
	defer rc.Close()
	if b, err := io.ReadAll(rc); err != nil || string(b) != "someone else's data" {
		t.Errorf("existing object now reads %q, %v", b, err)
	}
}

func (s *suite) badSQL(t *testing.T) {
	s.mustFail(t, s.ctas(t, `SELEC id FROM {people}`, s.people), "")
}

func (s *suite) unknownTable(t *testing.T) {
	s.mustFail(t, s.ctas(t, `SELECT id FROM no_such_table_{people}`, s.people), "no_such_table_")
}

// mustFail runs c, wants an error (mentioning sub, if given) and an empty
// location afterwards.
func (s *suite) mustFail(t *testing.T, c engine.CTAS, sub string) {
	t.Helper()
	_, err := s.eng.CreateTableAs(context.Background(), c)
	if err == nil {
		t.Fatalf("CreateTableAs(%q) succeeded, want an error", c.SQL)
	}
	t.Logf("error (expected): %v", err)
	// Text: the engine's own message names what it cannot find.
	if sub != "" && !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(sub)) {
		t.Errorf("error %q does not mention %q", err, sub)
	}
	_, base := s.location(strings.ReplaceAll(t.Name(), "/", "_"))
	if keys, _ := s.list(t, base); len(keys) > 0 {
		t.Errorf("failed CTAS left %v behind", keys)
	}
}

// cols parses "name type" pairs.
func cols(specs ...string) []catalog.Column {
	out := make([]catalog.Column, len(specs))
	for i, sp := range specs {
		n, ty, _ := strings.Cut(sp, " ")
		out[i] = catalog.Column{Name: n, Type: ty}
	}
	return out
}

func columnNames(cs []catalog.Column) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func checkColumns(t *testing.T, got, want []catalog.Column) {
	t.Helper()
	g := make([]string, len(got))
	for i, c := range got {
		g[i] = c.Name + " " + c.Type
	}
	w := make([]string, len(want))
	for i, c := range want {
		w[i] = c.Name + " " + c.Type
	}
	if !slices.Equal(g, w) {
		t.Errorf("Result.Columns = %v, want %v", g, w)
	}
}

// compareRows compares two multisets of rows over the named columns.
func compareRows(t *testing.T, got, want []map[string]string, names []string) {
	t.Helper()
	render := func(rows []map[string]string) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			parts := make([]string, len(names))
			for j, n := range names {
				v, ok := r[n]
				if !ok {
					v = "<missing>"
				}
				parts[j] = n + "=" + v
			}
			if len(r) > len(names) {
				parts = append(parts, fmt.Sprintf("<%d columns, want %d>", len(r), len(names)))
			}
			out[i] = strings.Join(parts, "|")
		}
		sort.Strings(out)
		return out
	}
	g, w := render(got), render(want)
	if slices.Equal(g, w) {
		return
	}
	missing, extra := diff(w, g), diff(g, w)
	t.Errorf("read back %d rows, want %d; %d missing, %d unexpected", len(g), len(w), len(missing), len(extra))
	for i := 0; i < len(missing) && i < 5; i++ {
		t.Errorf("  missing:    %s", missing[i])
	}
	for i := 0; i < len(extra) && i < 5; i++ {
		t.Errorf("  unexpected: %s", extra[i])
	}
}

// diff returns the elements of a (sorted) not matched in b (sorted), with
// multiplicity.
func diff(a, b []string) []string {
	var out []string
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j < len(b) && b[j] == x {
			j++
			continue
		}
		out = append(out, x)
	}
	return out
}
