package enginetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/storage"
)

// months of the partitioned source table; the last one is registered with
// no files.
var (
	filledMonths = []string{"2020-01", "2020-02", "2020-03"}
	emptyMonth   = "2020-04"
	rowsPerMonth = []int{200, 300, 250}
	states       = []string{"CA", "NY", "TX", "WA", "FL"}
	// stateNames is the unpartitioned source; FL is missing on purpose so
	// that an inner join drops rows.
	stateNames = map[string]string{"CA": "California", "NY": "New York", "TX": "Texas", "WA": "Washington"}
)

// peopleColumns is the catalog schema of the partitioned source.
var peopleColumns = []catalog.Column{
	{Name: "id", Type: "bigint"},
	{Name: "state", Type: "string"},
	{Name: "zip", Type: "int"},
	{Name: "score", Type: "double"},
	{Name: "active", Type: "boolean"},
	{Name: "born", Type: "date"},
	{Name: "balance", Type: "decimal(12,2)"},
	{Name: "seen", Type: "timestamp"},
}

// personRow is one Parquet row of the partitioned source, as a Go
// converter would write it: nullable columns optional, timestamps without
// zone (Hive semantics).
type personRow struct {
	ID      int64    `parquet:"id"`
	State   *string  `parquet:"state,optional"`
	Zip     int32    `parquet:"zip"`
	Score   *float64 `parquet:"score,optional"`
	Active  bool     `parquet:"active"`
	Born    *int32   `parquet:"born,optional,date"`
	Balance *int64   `parquet:"balance,optional,decimal(2:12)"`
	Seen    int64    `parquet:"seen,timestamp(microsecond:local)"`
}

// stateRow is one row of the unpartitioned source.
type stateRow struct {
	State string `parquet:"state"`
	Name  string `parquet:"name"`
}

// person is a generated row plus its partition.
type person struct {
	personRow
	month string
}

// values renders every column of p (partition key included) the way
// decodeValue renders what a reader finds in the files.
func (p person) values() map[string]string {
	m := map[string]string{
		"id":     strconv.FormatInt(p.ID, 10),
		"state":  null,
		"zip":    strconv.FormatInt(int64(p.Zip), 10),
		"score":  null,
		"active": strconv.FormatBool(p.Active),
		"born":   null,
		"seen":   formatTimestamp(time.UnixMicro(p.Seen)),
		// balance below
		"balance": null,
		"month":   p.month,
	}
	if p.State != nil {
		m["state"] = *p.State
	}
	if p.Score != nil {
		m["score"] = strconv.FormatFloat(*p.Score, 'g', -1, 64)
	}
	if p.Born != nil {
		m["born"] = formatDate(int64(*p.Born))
	}
	if p.Balance != nil {
		m["balance"] = formatDecimal(big.NewInt(*p.Balance), 2)
	}
	return m
}

// generate returns the rows of every filled month, deterministic.
func generate() []person {
	rng := mrand.New(mrand.NewPCG(20200301, 7))
	var out []person
	id := int64(1_000_000_000_000) // beyond int32: id must stay bigint
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for mi, month := range filledMonths {
		for range rowsPerMonth[mi] {
			id += 1 + rng.Int64N(5)
			p := person{month: month}
			p.ID = id
			if rng.IntN(20) != 0 {
				s := states[rng.IntN(len(states))]
				p.State = &s
			}
			p.Zip = int32(10000 + rng.IntN(89999))
			if rng.IntN(10) != 0 {
				f := float64(rng.IntN(100000)) / 8 // exact in binary: no rounding talk
				p.Score = &f
			}
			p.Active = rng.IntN(3) != 0
			if rng.IntN(8) != 0 {
				d := int32(-3000 + rng.IntN(22000)) // 1961..2030
				p.Born = &d
			}
			if rng.IntN(6) != 0 {
				b := rng.Int64N(2_000_000_000) - 500_000_000 // ±, 10 digits
				p.Balance = &b
			}
			// Millisecond precision: Athena's timestamps have no more.
			p.Seen = base.Add(time.Duration(rng.Int64N(90*24*3600)) * time.Second).Add(time.Duration(rng.IntN(1000)) * time.Millisecond).UnixMicro()
			out = append(out, p)
		}
	}
	return out
}

// env is the suite's source data, written once per Run.
type env struct {
	st      storage.Storage
	cat     catalog.Catalog
	db      string
	people  string // partitioned source table
	states  string // unpartitioned source table
	prefix  string // storage prefix of everything the suite writes
	persons []person
}

func newEnv(t *testing.T, st storage.Storage, cat catalog.Catalog, db string) *env {
	t.Helper()
	ctx := context.Background()
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	e := &env{
		st: st, cat: cat, db: db,
		people:  "people_" + suffix,
		states:  "states_" + suffix,
		prefix:  "enginetest/" + suffix,
		persons: generate(),
	}
	t.Cleanup(func() { e.cleanup(t) })
	if err := cat.EnsureDatabase(ctx, db); err != nil {
		t.Fatalf("EnsureDatabase %s: %v", db, err)
	}

	peopleKey := e.prefix + "/src/" + e.people
	if err := cat.PutTable(ctx, table(db, e.people, peopleColumns, []catalog.Column{{Name: "month", Type: "string"}}, st.ObjectURI(peopleKey)+"/")); err != nil {
		t.Fatalf("PutTable %s: %v", e.people, err)
	}
	for _, month := range append(append([]string{}, filledMonths...), emptyMonth) {
		dir := peopleKey + "/month=" + month + "/run=r1"
		var rows []personRow
		for _, p := range e.persons {
			if p.month == month {
				rows = append(rows, p.personRow)
			}
		}
		// Two files per partition, to read more than one.
		if half := len(rows) / 2; half > 0 {
			writeParquet(t, st, dir+"/000000_0_part1.snappy.parquet", rows[:half])
			writeParquet(t, st, dir+"/000000_0_part2.snappy.parquet", rows[half:])
			// Not data: Hive and Athena skip names starting with _ or '.'.
			putObject(t, st, dir+"/_manifest.json", `{"not":"parquet"}`)
		}
		p := catalog.Partition{
			Database: db, Table: e.people, Values: []string{month},
			StorageDescriptor: storageDescriptor(peopleColumns, st.ObjectURI(dir)+"/"),
		}
		if err := cat.PutPartition(ctx, p); err != nil {
			t.Fatalf("PutPartition %s %s: %v", e.people, month, err)
		}
	}

	statesKey := e.prefix + "/src/" + e.states
	var srows []stateRow
	for _, s := range states {
		if n, ok := stateNames[s]; ok {
			srows = append(srows, stateRow{State: s, Name: n})
		}
	}
	writeParquet(t, st, statesKey+"/data.parquet", srows)
	scols := []catalog.Column{{Name: "state", Type: "string"}, {Name: "name", Type: "string"}}
	if err := cat.PutTable(ctx, table(db, e.states, scols, nil, st.ObjectURI(statesKey)+"/")); err != nil {
		t.Fatalf("PutTable %s: %v", e.states, err)
	}
	return e
}

func table(db, name string, cols, keys []catalog.Column, location string) catalog.Table {
	if keys == nil {
		keys = []catalog.Column{}
	}
	return catalog.Table{
		Database: db, Name: name, TableType: "EXTERNAL_TABLE",
		Parameters:        map[string]string{"classification": "parquet"},
		PartitionKeys:     keys,
		StorageDescriptor: storageDescriptor(cols, location),
	}
}

func storageDescriptor(cols []catalog.Column, location string) catalog.StorageDescriptor {
	return catalog.StorageDescriptor{
		Columns:         cols,
		Location:        location,
		InputFormat:     catalog.ParquetInputFormat,
		OutputFormat:    catalog.ParquetOutputFormat,
		SerdeLibrary:    catalog.ParquetSerDe,
		Compressed:      true,
		NumberOfBuckets: -1,
	}
}

func writeParquet[T any](t *testing.T, st storage.Storage, key string, rows []T) {
	t.Helper()
	w, err := st.Create(context.Background(), key, storage.PutOptions{ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		t.Fatalf("create %s: %v", key, err)
	}
	pw := parquet.NewGenericWriter[T](w, parquet.Compression(&parquet.Snappy))
	if _, err := pw.Write(rows); err != nil {
		_ = w.Abort()
		t.Fatalf("write %s: %v", key, err)
	}
	if err := pw.Close(); err != nil {
		_ = w.Abort()
		t.Fatalf("close parquet %s: %v", key, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("commit %s: %v", key, err)
	}
}

func putObject(t *testing.T, st storage.Storage, key, body string) {
	t.Helper()
	if err := storage.Put(context.Background(), st, key, strings.NewReader(body), storage.PutOptions{}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// cleanup removes the suite's tables and objects; failures are reported
// but do not fail the test (the data is under a random prefix).
func (e *env) cleanup(t *testing.T) {
	ctx := context.Background()
	for _, tb := range []string{e.people, e.states} {
		if err := e.cat.DeleteTable(ctx, e.db, tb); err != nil {
			t.Logf("cleanup: delete table %s: %v", tb, err)
		}
	}
	var keys []string
	if err := e.st.List(ctx, e.prefix+"/", func(o storage.Object) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Logf("cleanup: list %s: %v", e.prefix, err)
	}
	for _, k := range keys {
		if err := e.st.Delete(ctx, k); err != nil {
			t.Logf("cleanup: delete %s: %v", k, err)
		}
	}
}

// location returns a fresh output location URI for one test.
func (e *env) location(name string) (uri, key string) {
	key = e.prefix + "/out/" + name
	return e.st.ObjectURI(key) + "/", key
}

func (e *env) sql(format string) string {
	r := strings.NewReplacer("{db}", e.db, "{people}", e.people, "{states}", e.states)
	return r.Replace(format)
}

func (e *env) filter(keep func(p person) bool) []person {
	var out []person
	for _, p := range e.persons {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// project renders the named columns of each person.
func project(ps []person, cols ...string) []map[string]string {
	out := make([]map[string]string, len(ps))
	for i, p := range ps {
		all := p.values()
		m := make(map[string]string, len(cols))
		for _, c := range cols {
			v, ok := all[c]
			if !ok {
				panic(fmt.Sprintf("enginetest: no column %q", c))
			}
			m[c] = v
		}
		out[i] = m
	}
	return out
}
