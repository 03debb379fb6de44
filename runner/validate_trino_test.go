package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierflow/tierflow/jobs"
)

// trinoErrors parses each statement with a real Trino grammar
// (dt-sql-parser's, ANTLR4, through testdata/trino.mjs) and returns the
// grammar's errors for each: none when it parses.
func trinoErrors(t *testing.T, statements []string) [][]string {
	t.Helper()
	mods := os.Getenv("TIERFLOW_TEST_NODE_MODULES")
	if _, err := os.Stat(filepath.Join(mods, "dt-sql-parser")); mods == "" || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no dt-sql-parser in TIERFLOW_TEST_NODE_MODULES: .ci/tools.sh installs it")
		}
		t.Skip("no dt-sql-parser in TIERFLOW_TEST_NODE_MODULES (source .ci/tools.sh): no Trino grammar")
	}
	in, _ := json.Marshal(statements)
	cmd := exec.Command("node", filepath.Join("testdata", "trino.mjs"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("trino.mjs: %v: %s", err, stderr.String())
	}
	var errs [][]string
	if err := json.Unmarshal(out, &errs); err != nil || len(errs) != len(statements) {
		t.Fatalf("trino.mjs printed %s (%v)", out, err)
	}
	return errs
}

// shippedJobs loads every job under jobs/ (the demo's among them) and the
// crash tests' job.
func shippedJobs(t *testing.T) []*jobs.Spec {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "jobs", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var specs []*jobs.Spec
	for _, f := range append(files, filepath.Join("testdata", "crash", "job.yaml")) {
		if strings.HasSuffix(f, ".schema.yaml") {
			continue
		}
		spec, err := jobs.Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		specs = append(specs, spec)
	}
	if len(specs) < 2 || specs[0].Name != DemoJob {
		t.Fatalf("want the shipped jobs, the demo's (%s) first, and the crash job; got %d", DemoJob, len(specs))
	}
	return specs
}

// The CREATE TABLE ... AS statement Athena receives for each derived
// table of every shipped job is Trino SQL, by a Trino grammar.
func TestAthenaStatementsAreTrino(t *testing.T) {
	var sqls, names []string
	for _, spec := range shippedJobs(t) {
		sts := AthenaStatements(spec)
		if len(sts) != len(spec.Derived) || len(sts) == 0 {
			t.Fatalf("%s: %d statements for %d derived tables", spec.Name, len(sts), len(spec.Derived))
		}
		for _, st := range sts {
			if st.Err != nil {
				t.Errorf("%s.%s: %v", spec.Name, st.Table, st.Err)
				continue
			}
			if !strings.HasPrefix(st.SQL, "CREATE TABLE ") || !strings.Contains(st.SQL, "external_location = 's3://") || !strings.Contains(st.SQL, "__") {
				t.Errorf("%s.%s: not the CTAS of a run, reading scratch tables:\n%s", spec.Name, st.Table, st.SQL)
			}
			sqls, names = append(sqls, st.SQL), append(names, spec.Name+"."+st.Table)
		}
	}
	for i, errs := range trinoErrors(t, sqls) {
		if len(errs) > 0 {
			t.Errorf("%s: the Trino grammar refuses the statement Athena would get: %v\n%s", names[i], errs, sqls[i])
		}
	}
	t.Logf("%d statements parse as Trino, e.g.\n%s", len(sqls), sqls[0])
}

// What DuckDB runs and Trino does not is refused by the Trino grammar in
// the statement Athena would get, and by validate itself (which has no
// Trino grammar in Go: its own checks must agree with the grammar's on
// these); SQL both run passes both.
func TestValidateAgreesWithTrinoGrammar(t *testing.T) {
	spec := crashSpec(t)
	cases := []struct {
		sql   string
		trino bool // Trino runs it
	}{
		{"SELECT id, name, state FROM crash WHERE state = 'CA'", true},
		{"SELECT state, count(*) AS n, max(id) AS top FROM crash GROUP BY state HAVING count(*) > 1", true},
		{"WITH ca AS (SELECT id, name FROM crash WHERE state = 'CA') SELECT CAST(id AS varchar) AS id, upper(name) AS name FROM ca", true},
		{"SELECT id, row_number() OVER (PARTITION BY state ORDER BY id) AS rn FROM crash", true},
		{"SELECT id FROM crash ORDER BY id OFFSET 1 LIMIT 2", true},
		{"SELECT id::varchar AS id FROM crash", false},
		{"SELECT id FROM crash WHERE name ILIKE 'n%'", false},
		{"SELECT id, state FROM crash QUALIFY row_number() OVER (PARTITION BY state ORDER BY id) = 1", false},
		{"SELECT * EXCLUDE (name) FROM crash", false},
		{"SELECT id FROM crash ORDER BY id LIMIT 2 OFFSET 1", false},
	}
	var sqls []string
	for _, c := range cases {
		s := *spec
		s.Derived = []jobs.Derived{{Table: "t", SQL: c.sql, PII: true, Line: 7}}
		st := AthenaStatements(&s)[0]
		if st.Err != nil {
			t.Fatalf("%s: %v", c.sql, st.Err)
		}
		sqls = append(sqls, st.SQL)
		_, err := ValidateDerived(context.Background(), &s)
		if (err == nil) != c.trino {
			t.Errorf("validate of %q: %v; Trino runs it: %v", c.sql, err, c.trino)
		}
	}
	for i, errs := range trinoErrors(t, sqls) {
		if (len(errs) == 0) != cases[i].trino {
			t.Errorf("the Trino grammar on %q: %v; Trino runs it: %v", cases[i].sql, errs, cases[i].trino)
		}
	}
}
