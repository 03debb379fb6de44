package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tierflow/tierflow/runner"
)

type shown struct{}

func (shown) String() string { return "decimal 1.50" }

// query prints a result as an aligned table, CSV or JSON; NULL is empty
// in the table and CSV, null in JSON; dates without a time print as dates.
func TestPrintRows(t *testing.T) {
	day := time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)
	res := &runner.QueryResult{Columns: []string{"n", "name", "day", "amount"}, Rows: [][]any{
		{int64(60), []byte("a,b"), day, shown{}},
		{int64(7), nil, day.Add(90 * time.Minute), nil},
	}}
	for _, c := range []struct{ output, want string }{
		{"csv", "n,name,day,amount\n60,\"a,b\",2020-03-01,decimal 1.50\n7,,2020-03-01T01:30:00Z,\n"},
		{"table", "n   name  day                   amount\n60  a,b   2020-03-01            decimal 1.50\n7         2020-03-01T01:30:00Z  \n(2 rows)\n"},
	} {
		var out bytes.Buffer
		if err := printRows(&out, res, c.output); err != nil {
			t.Fatal(err)
		}
		if out.String() != c.want {
			t.Errorf("--output %s:\n%q\nwant\n%q", c.output, out.String(), c.want)
		}
	}
	var out bytes.Buffer
	if err := printRows(&out, res, "json"); err != nil {
		t.Fatal(err)
	}
	want := `[{"amount":"decimal 1.50","day":"2020-03-01","n":60,"name":"a,b"},{"amount":null,"day":"2020-03-01T01:30:00Z","n":7,"name":null}]`
	var compact bytes.Buffer
	if err := json.Compact(&compact, out.Bytes()); err != nil || compact.String() != want {
		t.Errorf("--output json: %s (%v)\nwant %s", compact.String(), err, want)
	}
}

// An --output query does not have is refused before anything is opened.
func TestQueryOutputRefused(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := tierflow(t, dir, nil, "query", "--job", "consumer-header", "--lake", dir, "--output", "yaml", "SELECT 1")
	if code != 2 || !strings.Contains(errOut, `--output "yaml": use table, csv or json`) {
		t.Errorf("query --output yaml: exit %d, %s", code, errOut)
	}
}
