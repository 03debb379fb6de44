// Package catalogtest is the conformance suite every catalog.Catalog
// implementation must pass (the local JSON catalog and Glue). It uses only
// the catalog interface.
//
// Contracts checked beyond the interface comments:
//   - Database and table names are folded to lowercase (as Glue does), on
//     write and on lookup; an empty name is rejected.
//   - PutTable into a missing database fails with catalog.ErrNotFound.
//   - Table.Version is non-empty on read and changes with every PutTable;
//     PutTable with a stale Version fails with catalog.ErrConflict, with the
//     current one it succeeds, with "" it is unconditional.
//   - Replacing a table definition keeps its partitions; deleting a table
//     deletes them (they do not come back with a new table of that name).
//   - Bucketing is validated: NumberOfBuckets > 0 needs BucketColumns naming
//     data columns (not partition keys); a partition needs one value per
//     partition key and the table's NumberOfBuckets and BucketColumns.
//   - PutPartition, GetPartition and ListPartitions on a missing table fail
//     with catalog.ErrNotFound; deletes of missing things succeed.
//   - ListPartitions orders by values element by element (["a","b"] before
//     ["a-","a"]), not by a joined string.
//   - Partitions returned carry DatabaseName and TableName.
//
// Round trips compare all fields, treating nil and empty maps and slices as
// equal and any NumberOfBuckets <= 0 as "not bucketed".
package catalogtest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tierflow/tierflow/lake/catalog"
)

// Run runs the catalog conformance suite; open returns a fresh, empty
// catalog each call.
func Run(t *testing.T, open func(t *testing.T) catalog.Catalog) {
	t.Run("Database", func(t *testing.T) { testDatabase(t, open) })
	t.Run("Table", func(t *testing.T) { testTable(t, open) })
	t.Run("Partition", func(t *testing.T) { testPartition(t, open) })
}

// opener returns a fresh, empty catalog each call.
type opener = func(t *testing.T) catalog.Catalog

const db = "conformance"

// table returns a Parquet table bucketed 4 ways by state, partitioned by
// month, shaped like the one tierflow registers.
func table(name string) catalog.Table {
	return catalog.Table{
		Database:  db,
		Name:      name,
		TableType: "EXTERNAL_TABLE",
		Parameters: map[string]string{
			"EXTERNAL": "TRUE", "classification": "parquet", "parquet.compression": "SNAPPY", "bucketing_version": "1",
		},
		PartitionKeys: []catalog.Column{{Name: "month", Type: "string"}},
		StorageDescriptor: catalog.StorageDescriptor{
			Columns: []catalog.Column{
				{Name: "state", Type: "string", Comment: "two-letter code"},
				{Name: "zipcode", Type: "string", Parameters: map[string]string{"pii": "address"}},
				{Name: "age", Type: "int"},
				{Name: "income", Type: "decimal(12,2)"},
			},
			Location:        "s3://bucket/tier2/" + name + "/",
			InputFormat:     catalog.ParquetInputFormat,
			OutputFormat:    catalog.ParquetOutputFormat,
			SerdeLibrary:    catalog.ParquetSerDe,
			SerdeParameters: map[string]string{"serialization.format": "1"},
			NumberOfBuckets: 4,
			BucketColumns:   []string{"state"},
			SortColumns:     []catalog.SortColumn{{Column: "state", SortOrder: 1}},
		},
	}
}

// partition returns a partition of table(name) for values, at location loc.
func partition(name, loc string, values ...string) catalog.Partition {
	sd := table(name).StorageDescriptor
	sd.Location = loc
	return catalog.Partition{
		Database:          db,
		Table:             name,
		Values:            values,
		Parameters:        map[string]string{"run_id": loc},
		StorageDescriptor: sd,
	}
}

// setup opens a catalog with the database and the named tables.
func setup(t *testing.T, open opener, tables ...string) catalog.Catalog {
	t.Helper()
	c := open(t)
	if err := c.EnsureDatabase(t.Context(), db); err != nil {
		t.Fatalf("ensure database: %v", err)
	}
	for _, n := range tables {
		if err := c.PutTable(t.Context(), table(n)); err != nil {
			t.Fatalf("put table %s: %v", n, err)
		}
	}
	return c
}

func normMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func normColumns(cols []catalog.Column) []catalog.Column {
	if len(cols) == 0 {
		return nil
	}
	out := make([]catalog.Column, len(cols))
	for i, c := range cols {
		c.Parameters = normMap(c.Parameters)
		out[i] = c
	}
	return out
}

func normSD(sd catalog.StorageDescriptor) catalog.StorageDescriptor {
	sd.Columns = normColumns(sd.Columns)
	sd.SerdeParameters = normMap(sd.SerdeParameters)
	if sd.NumberOfBuckets <= 0 {
		sd.NumberOfBuckets = 0
	}
	if len(sd.BucketColumns) == 0 {
		sd.BucketColumns = nil
	}
	if len(sd.SortColumns) == 0 {
		sd.SortColumns = nil
	}
	return sd
}

func normTable(tb catalog.Table) catalog.Table {
	tb.Version = ""
	tb.Parameters = normMap(tb.Parameters)
	tb.PartitionKeys = normColumns(tb.PartitionKeys)
	tb.StorageDescriptor = normSD(tb.StorageDescriptor)
	return tb
}

func normPartition(p catalog.Partition) catalog.Partition {
	p.Parameters = normMap(p.Parameters)
	p.StorageDescriptor = normSD(p.StorageDescriptor)
	return p
}

func sameTable(t *testing.T, what string, got, want catalog.Table) {
	t.Helper()
	if g, w := normTable(got), normTable(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func samePartition(t *testing.T, what string, got, want catalog.Partition) {
	t.Helper()
	if g, w := normPartition(got), normPartition(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("%s: got %v, want catalog.ErrNotFound", what, err)
	}
	if n := strings.Count(": "+err.Error(), ": catalog: "); n != 1 {
		t.Fatalf("%s: %q names the catalog package %d times, want once", what, err, n)
	}
}

func getTable(t *testing.T, c catalog.Catalog, name string) catalog.Table {
	t.Helper()
	tb, err := c.GetTable(t.Context(), db, name)
	if err != nil {
		t.Fatalf("get table %s: %v", name, err)
	}
	if tb.Version == "" {
		t.Fatalf("get table %s: empty Version", name)
	}
	return tb
}

func listValues(t *testing.T, c catalog.Catalog, name string) [][]string {
	t.Helper()
	ps, err := c.ListPartitions(t.Context(), db, name)
	if err != nil {
		t.Fatalf("list partitions of %s: %v", name, err)
	}
	var vs [][]string
	for _, p := range ps {
		vs = append(vs, p.Values)
	}
	return vs
}

func testDatabase(t *testing.T, open opener) {
	t.Run("EnsureIsIdempotent", func(t *testing.T) {
		c := open(t)
		for range 3 {
			if err := c.EnsureDatabase(t.Context(), db); err != nil {
				t.Fatalf("ensure database: %v", err)
			}
		}
		if err := c.PutTable(t.Context(), table("t")); err != nil {
			t.Fatalf("put table after ensure: %v", err)
		}
		// Ensuring again must not drop what the database holds.
		if err := c.EnsureDatabase(t.Context(), db); err != nil {
			t.Fatal(err)
		}
		getTable(t, c, "t")
	})
	t.Run("EmptyNameRejected", func(t *testing.T) {
		if err := open(t).EnsureDatabase(t.Context(), ""); err == nil {
			t.Fatal("EnsureDatabase(\"\") succeeded")
		}
	})
}

func testTable(t *testing.T, open opener) {
	t.Run("PutGetRoundTrip", func(t *testing.T) { tablePutGetRoundTrip(t, open) })
	t.Run("BucketMetadataRoundTrip", func(t *testing.T) { tableBucketMetadataRoundTrip(t, open) })
	t.Run("Unbucketed", func(t *testing.T) { tableUnbucketed(t, open) })
	t.Run("ReplaceChangesDefinitionAndVersion", func(t *testing.T) { tableReplaceChangesDefinitionAndVersion(t, open) })
	t.Run("ConditionalUpdate", func(t *testing.T) { tableConditionalUpdate(t, open) })
	t.Run("NamesFoldedToLowercase", func(t *testing.T) { tableNamesFoldedToLowercase(t, open) })
	t.Run("GetMissing", func(t *testing.T) { tableGetMissing(t, open) })
	t.Run("PutInMissingDatabase", func(t *testing.T) { tablePutInMissingDatabase(t, open) })
	t.Run("InvalidRejected", func(t *testing.T) { tableInvalidRejected(t, open) })
	t.Run("DeleteRemovesTableAndPartitions", func(t *testing.T) { tableDeleteRemovesTableAndPartitions(t, open) })
	t.Run("DeleteMissingIsNil", func(t *testing.T) { tableDeleteMissingIsNil(t, open) })
	t.Run("ReplaceKeepsPartitions", func(t *testing.T) { tableReplaceKeepsPartitions(t, open) })
}

func tablePutGetRoundTrip(t *testing.T, open opener) {
	c := setup(t, open, "consumer_header")
	sameTable(t, "get", getTable(t, c, "consumer_header"), table("consumer_header"))
}

func tableBucketMetadataRoundTrip(t *testing.T, open opener) {
	c := setup(t, open)
	want := table("bucketed")
	want.StorageDescriptor.NumberOfBuckets = 60
	want.StorageDescriptor.BucketColumns = []string{"state", "zipcode"}
	want.StorageDescriptor.SortColumns = []catalog.SortColumn{{Column: "state", SortOrder: 1}, {Column: "age", SortOrder: 0}}
	if err := c.PutTable(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	got := getTable(t, c, "bucketed")
	sameTable(t, "get", got, want)
	if sd := got.StorageDescriptor; sd.NumberOfBuckets != 60 || !slices.Equal(sd.BucketColumns, []string{"state", "zipcode"}) {
		t.Fatalf("bucketing came back as %d %q", sd.NumberOfBuckets, sd.BucketColumns)
	}
}

func tableUnbucketed(t *testing.T, open opener) {
	c := setup(t, open)
	want := table("plain")
	want.StorageDescriptor.NumberOfBuckets = 0
	want.StorageDescriptor.BucketColumns = nil
	want.StorageDescriptor.SortColumns = nil
	want.PartitionKeys = nil
	if err := c.PutTable(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	sameTable(t, "get", getTable(t, c, "plain"), want)
}

func tableReplaceChangesDefinitionAndVersion(t *testing.T, open opener) {
	c := setup(t, open, "t")
	v1 := getTable(t, c, "t")
	next := table("t")
	next.StorageDescriptor.Columns = append(next.StorageDescriptor.Columns, catalog.Column{Name: "added", Type: "bigint"})
	next.StorageDescriptor.Location = "s3://bucket/elsewhere/"
	next.Parameters = map[string]string{"classification": "parquet"}
	if err := c.PutTable(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	v2 := getTable(t, c, "t")
	sameTable(t, "after replace", v2, next)
	if v2.Version == v1.Version {
		t.Fatalf("Version %q did not change on PutTable", v1.Version)
	}
}

func tableConditionalUpdate(t *testing.T, open opener) {
	c := setup(t, open, "t")
	read := getTable(t, c, "t")
	read.Parameters["step"] = "1"
	if err := c.PutTable(t.Context(), read); err != nil {
		t.Fatalf("put at current version %q: %v", read.Version, err)
	}
	stale := read // still carries the old version
	stale.Parameters = map[string]string{"step": "stale"}
	if err := c.PutTable(t.Context(), stale); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("put at stale version: got %v, want catalog.ErrConflict", err)
	}
	if got := getTable(t, c, "t"); got.Parameters["step"] != "1" {
		t.Fatalf("stale put changed the table: %v", got.Parameters)
	}
}

func tableNamesFoldedToLowercase(t *testing.T, open opener) {
	c := open(t)
	if err := c.EnsureDatabase(t.Context(), "Conformance"); err != nil {
		t.Fatal(err)
	}
	in := table("Consumer_Header")
	in.Database = "CONFORMANCE"
	if err := c.PutTable(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"consumer_header", "Consumer_Header", "CONSUMER_HEADER"} {
		got, err := c.GetTable(t.Context(), "Conformance", name)
		if err != nil {
			t.Fatalf("get %q: %v", name, err)
		}
		if got.Name != "consumer_header" || got.Database != db {
			t.Fatalf("get %q: stored as %s.%s, want %s.consumer_header", name, got.Database, got.Name, db)
		}
	}
}

func tableGetMissing(t *testing.T, open opener) {
	c := setup(t, open, "t")
	_, err := c.GetTable(t.Context(), db, "absent")
	wantNotFound(t, "get absent table", err)
	_, err = c.GetTable(t.Context(), "absent_db", "t")
	wantNotFound(t, "get table in absent database", err)
}

func tablePutInMissingDatabase(t *testing.T, open opener) {
	c := open(t)
	err := c.PutTable(t.Context(), table("t"))
	wantNotFound(t, "put table in absent database", err)
}

func tableInvalidRejected(t *testing.T, open opener) {
	cases := map[string]func(*catalog.Table){
		"EmptyName":                  func(tb *catalog.Table) { tb.Name = "" },
		"BucketColumnIsPartitionKey": func(tb *catalog.Table) { tb.StorageDescriptor.BucketColumns = []string{"month"} },
		"BucketColumnUnknown":        func(tb *catalog.Table) { tb.StorageDescriptor.BucketColumns = []string{"nosuch"} },
		"BucketsWithoutColumns":      func(tb *catalog.Table) { tb.StorageDescriptor.BucketColumns = nil },
		"ColumnsWithoutBuckets":      func(tb *catalog.Table) { tb.StorageDescriptor.NumberOfBuckets = 0 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := setup(t, open)
			tb := table("bad")
			mutate(&tb)
			if err := c.PutTable(t.Context(), tb); err == nil {
				t.Fatalf("invalid table accepted: %+v", tb.StorageDescriptor)
			}
			_, err := c.GetTable(t.Context(), db, "bad")
			wantNotFound(t, "get rejected table", err)
		})
	}
}

func tableDeleteRemovesTableAndPartitions(t *testing.T, open opener) {
	c := setup(t, open, "t", "other")
	ctx := t.Context()
	for _, m := range []string{"2020-01", "2020-02"} {
		if err := c.PutPartition(ctx, partition("t", "loc-"+m, m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PutPartition(ctx, partition("other", "kept", "2020-01")); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTable(ctx, db, "t"); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetTable(ctx, db, "t")
	wantNotFound(t, "get deleted table", err)
	_, err = c.GetPartition(ctx, db, "t", []string{"2020-01"})
	wantNotFound(t, "get partition of deleted table", err)
	// A new table of the same name starts without partitions.
	if err := c.PutTable(ctx, table("t")); err != nil {
		t.Fatal(err)
	}
	if vs := listValues(t, c, "t"); len(vs) != 0 {
		t.Fatalf("partitions came back with the re-created table: %q", vs)
	}
	if vs := listValues(t, c, "other"); len(vs) != 1 {
		t.Fatalf("other table lost its partitions: %q", vs)
	}
}

func tableDeleteMissingIsNil(t *testing.T, open opener) {
	c := setup(t, open)
	if err := c.DeleteTable(t.Context(), db, "absent"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTable(t.Context(), "absent_db", "absent"); err != nil {
		t.Fatal(err)
	}
}

func tableReplaceKeepsPartitions(t *testing.T, open opener) {
	c := setup(t, open, "t")
	if err := c.PutPartition(t.Context(), partition("t", "loc", "2020-03")); err != nil {
		t.Fatal(err)
	}
	next := table("t")
	next.Parameters["comment"] = "redefined"
	if err := c.PutTable(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	if vs := listValues(t, c, "t"); len(vs) != 1 || vs[0][0] != "2020-03" {
		t.Fatalf("partitions after table replace: %q", vs)
	}
}

func testPartition(t *testing.T, open opener) {
	t.Run("PutGetRoundTrip", func(t *testing.T) { partitionPutGetRoundTrip(t, open) })
	t.Run("SwitchReplacesWhole", func(t *testing.T) { partitionSwitchReplacesWhole(t, open) })
	t.Run("SwitchReadersSeeOldOrNew", func(t *testing.T) { partitionSwitchReadersSeeOldOrNew(t, open) })
	t.Run("ListOrderedByValues", func(t *testing.T) { partitionListOrderedByValues(t, open) })
	t.Run("ListOrderedElementWise", func(t *testing.T) { partitionListOrderedElementWise(t, open) })
	t.Run("EmptyList", func(t *testing.T) { partitionEmptyList(t, open) })
	t.Run("Delete", func(t *testing.T) { partitionDelete(t, open) })
	t.Run("GetMissing", func(t *testing.T) { partitionGetMissing(t, open) })
	t.Run("MissingTable", func(t *testing.T) { partitionMissingTable(t, open) })
	t.Run("InvalidRejected", func(t *testing.T) { partitionInvalidRejected(t, open) })
	t.Run("ConcurrentPutsAllLand", func(t *testing.T) { partitionConcurrentPutsAllLand(t, open) })
}

func partitionPutGetRoundTrip(t *testing.T, open opener) {
	c := setup(t, open, "t")
	want := partition("t", "s3://bucket/tier2/t/month=2020-03/run=r1/", "2020-03")
	if err := c.PutPartition(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetPartition(t.Context(), db, "t", []string{"2020-03"})
	if err != nil {
		t.Fatal(err)
	}
	samePartition(t, "get", got, want)
	if got.StorageDescriptor.NumberOfBuckets != 4 || !slices.Equal(got.StorageDescriptor.BucketColumns, []string{"state"}) {
		t.Fatalf("partition bucketing came back as %d %q", got.StorageDescriptor.NumberOfBuckets, got.StorageDescriptor.BucketColumns)
	}
}

func partitionSwitchReplacesWhole(t *testing.T, open opener) {
	c := setup(t, open, "t")
	old := partition("t", "s3://bucket/run=old/", "2020-03")
	old.Parameters["only_in_old"] = "x"
	if err := c.PutPartition(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	next := partition("t", "s3://bucket/run=new/", "2020-03")
	if err := c.PutPartition(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetPartition(t.Context(), db, "t", []string{"2020-03"})
	if err != nil {
		t.Fatal(err)
	}
	samePartition(t, "after switch", got, next)
	if vs := listValues(t, c, "t"); len(vs) != 1 {
		t.Fatalf("switch duplicated the partition: %q", vs)
	}
}

func partitionSwitchReadersSeeOldOrNew(t *testing.T, open opener) {
	c := setup(t, open, "t")
	ctx := t.Context()
	if err := c.PutPartition(ctx, partition("t", "run-0", "2020-03")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				p, err := c.GetPartition(ctx, db, "t", []string{"2020-03"})
				if err != nil {
					t.Errorf("get during switches: %v", err)
					return
				}
				// Location and parameters were written together.
				if p.Parameters["run_id"] != p.StorageDescriptor.Location {
					t.Errorf("mixed partition: location %q with parameters of %q", p.StorageDescriptor.Location, p.Parameters["run_id"])
					return
				}
			}
		})
	}
	for i := 1; i <= 20; i++ {
		if err := c.PutPartition(ctx, partition("t", fmt.Sprintf("run-%d", i), "2020-03")); err != nil {
			t.Error(err)
			break
		}
	}
	close(done)
	wg.Wait()
	got, err := c.GetPartition(ctx, db, "t", []string{"2020-03"})
	if err != nil || got.StorageDescriptor.Location != "run-20" {
		t.Fatalf("final partition %q, %v; want run-20", got.StorageDescriptor.Location, err)
	}
}

func partitionListOrderedByValues(t *testing.T, open opener) {
	c := setup(t, open, "t")
	months := []string{"2020-10", "2019-12", "2020-03", "2020-01"}
	for _, m := range months {
		if err := c.PutPartition(t.Context(), partition("t", "loc-"+m, m)); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := c.ListPartitions(t.Context(), db, "t")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Values[0])
		if p.Database != db || p.Table != "t" || p.StorageDescriptor.Location != "loc-"+p.Values[0] {
			t.Fatalf("listed partition %+v lacks its table or location", p)
		}
	}
	want := slices.Sorted(slices.Values(months))
	if !slices.Equal(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func partitionListOrderedElementWise(t *testing.T, open opener) {
	c := setup(t, open)
	tb := table("multi")
	tb.PartitionKeys = []catalog.Column{{Name: "region", Type: "string"}, {Name: "month", Type: "string"}}
	if err := c.PutTable(t.Context(), tb); err != nil {
		t.Fatal(err)
	}
	in := [][]string{{"a-", "a"}, {"a", "b"}, {"b", "a"}, {"a", "a"}}
	for _, v := range in {
		p := partition("multi", "loc", v...)
		if err := c.PutPartition(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	got := listValues(t, c, "multi")
	want := [][]string{{"a", "a"}, {"a", "b"}, {"a-", "a"}, {"b", "a"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
}

func partitionEmptyList(t *testing.T, open opener) {
	c := setup(t, open, "t")
	if vs := listValues(t, c, "t"); len(vs) != 0 {
		t.Fatalf("new table has partitions %q", vs)
	}
}

func partitionDelete(t *testing.T, open opener) {
	c := setup(t, open, "t")
	ctx := t.Context()
	for _, m := range []string{"2020-01", "2020-02", "2020-03"} {
		if err := c.PutPartition(ctx, partition("t", "loc", m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.DeletePartition(ctx, db, "t", []string{"2020-02"}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetPartition(ctx, db, "t", []string{"2020-02"})
	wantNotFound(t, "get deleted partition", err)
	if vs := listValues(t, c, "t"); !reflect.DeepEqual(vs, [][]string{{"2020-01"}, {"2020-03"}}) {
		t.Fatalf("after delete: %q", vs)
	}
	for _, del := range [][3]string{{db, "t", "1999-01"}, {db, "absent", "2020-01"}, {"absent_db", "t", "2020-01"}} {
		if err := c.DeletePartition(ctx, del[0], del[1], []string{del[2]}); err != nil {
			t.Fatalf("delete missing partition %q: %v", del, err)
		}
	}
}

func partitionGetMissing(t *testing.T, open opener) {
	c := setup(t, open, "t")
	_, err := c.GetPartition(t.Context(), db, "t", []string{"2020-03"})
	wantNotFound(t, "get absent partition", err)
}

func partitionMissingTable(t *testing.T, open opener) {
	c := setup(t, open)
	ctx := t.Context()
	wantNotFound(t, "put partition of absent table", c.PutPartition(ctx, partition("absent", "loc", "2020-03")))
	_, err := c.GetPartition(ctx, db, "absent", []string{"2020-03"})
	wantNotFound(t, "get partition of absent table", err)
	_, err = c.ListPartitions(ctx, db, "absent")
	wantNotFound(t, "list partitions of absent table", err)
}

func partitionInvalidRejected(t *testing.T, open opener) {
	cases := map[string]func(*catalog.Partition){
		"TooFewValues":       func(p *catalog.Partition) { p.Values = nil },
		"TooManyValues":      func(p *catalog.Partition) { p.Values = []string{"2020-03", "extra"} },
		"BucketCountDiffers": func(p *catalog.Partition) { p.StorageDescriptor.NumberOfBuckets = 8 },
		"BucketColumnsDiffer": func(p *catalog.Partition) {
			p.StorageDescriptor.BucketColumns = []string{"zipcode"}
		},
		"BucketingMissing": func(p *catalog.Partition) {
			p.StorageDescriptor.NumberOfBuckets, p.StorageDescriptor.BucketColumns = 0, nil
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := setup(t, open, "t")
			p := partition("t", "loc", "2020-03")
			mutate(&p)
			if err := c.PutPartition(t.Context(), p); err == nil {
				t.Fatalf("invalid partition accepted: values %q, buckets %d %q", p.Values, p.StorageDescriptor.NumberOfBuckets, p.StorageDescriptor.BucketColumns)
			}
			if vs := listValues(t, c, "t"); len(vs) != 0 {
				t.Fatalf("rejected partition stored: %q", vs)
			}
		})
	}
}

func partitionConcurrentPutsAllLand(t *testing.T, open opener) {
	c := setup(t, open, "t")
	const workers, each = 8, 5
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				m := fmt.Sprintf("w%d-%02d", w, i)
				if err := c.PutPartition(t.Context(), partition("t", "loc-"+m, m)); err != nil {
					t.Errorf("put %s: %v", m, err)
				}
			}
		})
	}
	wg.Wait()
	vs := listValues(t, c, "t")
	if len(vs) != workers*each {
		var flat []string
		for _, v := range vs {
			flat = append(flat, strings.Join(v, "/"))
		}
		t.Fatalf("%d of %d partitions landed: %q", len(vs), workers*each, flat)
	}
}
