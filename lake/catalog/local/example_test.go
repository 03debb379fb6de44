package local_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/local"
)

// A database, a table partitioned by month and one partition, read back.
func Example() {
	dir, err := os.MkdirTemp("", "catalog-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cat, err := local.Open(filepath.Join(dir, "catalog.json"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	if err := cat.EnsureDatabase(ctx, "Sales"); err != nil { // folded to "sales"
		log.Fatal(err)
	}
	sd := catalog.StorageDescriptor{
		Columns:      []catalog.Column{{Name: "id", Type: "bigint"}, {Name: "name", Type: "string"}},
		Location:     "file:///srv/lake/orders",
		InputFormat:  catalog.ParquetInputFormat,
		OutputFormat: catalog.ParquetOutputFormat,
		SerdeLibrary: catalog.ParquetSerDe,
	}
	err = cat.PutTable(ctx, catalog.Table{
		Database:          "sales",
		Name:              "orders",
		TableType:         "EXTERNAL_TABLE",
		PartitionKeys:     []catalog.Column{{Name: "month", Type: "string"}},
		StorageDescriptor: sd,
	})
	if err != nil {
		log.Fatal(err)
	}
	sd.Location += "/month=2020-03"
	err = cat.PutPartition(ctx, catalog.Partition{Database: "sales", Table: "orders", Values: []string{"2020-03"}, StorageDescriptor: sd})
	if err != nil {
		log.Fatal(err)
	}

	t, err := cat.GetTable(ctx, "sales", "orders")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s.%s version %s, partitioned by %s\n", t.Database, t.Name, t.Version, t.PartitionKeys[0].Name)
	p, err := cat.GetPartition(ctx, "sales", "orders", []string{"2020-03"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Values, p.StorageDescriptor.Location)
	_, err = cat.GetPartition(ctx, "sales", "orders", []string{"2020-04"})
	fmt.Println(errors.Is(err, catalog.ErrNotFound), err)
	// Output:
	// sales.orders version 1, partitioned by month
	// [2020-03] file:///srv/lake/orders/month=2020-03
	// true partition sales.orders ["2020-04"]: catalog: not found
}
