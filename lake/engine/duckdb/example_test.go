//go:build cgo && !noduckdb

package duckdb_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/local"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/engine/duckdb"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// Two CTAS over a lake in a temp directory: the first writes a small table
// from literal rows, which is then registered in the catalog (registration
// is the caller's), and the second derives a table from it.
func Example() {
	dir, err := os.MkdirTemp("", "duckdb-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := file.New(filepath.Join(dir, "lake"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	cat, err := local.Open(filepath.Join(dir, "catalog.json"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := cat.EnsureDatabase(ctx, "db"); err != nil {
		log.Fatal(err)
	}
	e, err := duckdb.New(ctx, cat, st, duckdb.Options{Threads: 1, TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	orders, err := e.CreateTableAs(ctx, engine.CTAS{
		Database: "db", Table: "orders", Location: st.ObjectURI("orders/"),
		SQL: "SELECT * FROM (VALUES (1, 'CA'), (2, 'NY'), (3, 'CA')) AS v(id, state)",
	})
	if err != nil {
		log.Fatal(err)
	}
	err = cat.PutTable(ctx, catalog.Table{
		Database: "db", Name: "orders", TableType: "EXTERNAL_TABLE",
		StorageDescriptor: catalog.StorageDescriptor{Columns: orders.Columns, Location: st.ObjectURI("orders/")},
	})
	if err != nil {
		log.Fatal(err)
	}

	res, err := e.CreateTableAs(ctx, engine.CTAS{
		Database: "db", Table: "by_state", Location: st.ObjectURI("by_state/"),
		SQL:     "SELECT state, count(*) AS orders FROM orders GROUP BY state",
		Sources: []string{"orders"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(orders.Rows, "rows in orders,", res.Rows, "in by_state:")
	for _, c := range res.Columns {
		fmt.Println(" ", c.Name, c.Type)
	}
	for _, f := range res.Files {
		fmt.Println(strings.TrimPrefix(f, st.URI()+"/"))
	}

	// The result is plain Parquet.
	rows, err := e.Query(ctx, "SELECT state, orders FROM read_parquet(?) ORDER BY state", filepath.Join(st.Dir(), "by_state", "*.parquet"))
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			log.Fatal(err)
		}
		fmt.Println(state, n)
	}
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 3 rows in orders, 2 in by_state:
	//   state string
	//   orders bigint
	// by_state/part-0.parquet
	// CA 2
	// NY 1
}
