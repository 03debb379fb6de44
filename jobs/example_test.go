package jobs_test

import (
	"fmt"
	"log"

	"github.com/tierflow/tierflow/jobs"
)

// A spec with its schema written inline, so nothing else is read; fields it
// leaves out get their defaults.
func ExampleParse() {
	spec := `name: orders
source: {intake: "intake/orders/{month}/"}
schema:
  - {name: id, type: bigint}
  - {name: email, type: string, pii: email}
output: {table: orders, bucketed_by: [id], bucket_count: 4}
catalog: {database: sales}
derived:
  - table: order_count
    sql: SELECT count(*) AS n FROM orders
`
	s, err := jobs.Parse("orders.yaml", []byte(spec), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Name, s.Lake, s.IntakePrefix("2020-03"))
	for _, c := range s.Schema.Columns {
		fmt.Printf("%s pii=%q\n", c.Name, c.PII)
	}
	fmt.Println(s.Derived[0].Table, s.Derived[0].Format, s.Derived[0].Compression)
	// Output:
	// orders file://./tierflow-lake intake/orders/2020-03/
	// id pii=""
	// email pii="email"
	// order_count parquet snappy
}

// Every problem of a spec is reported at once, each with its line.
func ExampleParse_problems() {
	spec := `name: Orders
source: {intake: "intake/orders/{month}/"}
schema:
  - {name: id, type: bigint}
output: {table: orders, bucket_count: 4}
catalog: {database: sales}
`
	_, err := jobs.Parse("orders.yaml", []byte(spec), nil)
	fmt.Println(err)
	// Output:
	// 2 problems in job spec:
	//   orders.yaml:1: name: "Orders" must be 1-64 characters of lowercase letters, digits, '-' and '_', starting with a letter
	//   orders.yaml:5: output.bucket_count: set but bucketed_by is empty
}

func ExampleShipped() {
	s, err := jobs.Shipped("consumer-header")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Name, len(s.Schema.Columns), "columns")
	fmt.Println(s.Output.Table, s.Output.BucketedBy, s.Output.BucketCount)
	for _, d := range s.Derived {
		fmt.Println(d.Table, "pii:", d.PII)
	}
	// Output:
	// consumer-header 406 columns
	// consumer_header [state] 60
	// consumer_ca pii: true
	// consumer_ca_deid pii: false
}
