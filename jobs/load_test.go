package jobs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// parseFiles loads dir/job.yaml from an in-memory set of files.
func parseFiles(t *testing.T, files map[string]string) (*Spec, error) {
	t.Helper()
	read := func(p string) ([]byte, error) {
		data, ok := files[filepath.ToSlash(p)]
		if !ok {
			return nil, fmt.Errorf("open %s: %w", p, fs.ErrNotExist)
		}
		return []byte(data), nil
	}
	data, err := read("dir/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return Parse("dir/job.yaml", data, read)
}

// problemsOf returns the problems as "file:line: message" strings.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T) is not a jobs.Errors", err, err)
	}
	out := make([]string, len(errs))
	for i, p := range errs {
		out[i] = p.String()
	}
	return out
}

// wantProblems checks that every want (a "file:line: substring" prefix) is
// matched by a distinct problem, and that there are no other problems.
func wantProblems(t *testing.T, err error, want ...string) {
	t.Helper()
	got := problemsOf(t, err)
	left := slices.Clone(got)
	for _, w := range want {
		loc, msg, _ := strings.Cut(w, " ")
		i := slices.IndexFunc(left, func(p string) bool { return strings.HasPrefix(p, loc+" ") && strings.Contains(p, msg) })
		if i < 0 {
			t.Errorf("missing problem %q", w)
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	for _, p := range left {
		t.Errorf("unexpected problem %q", p)
	}
	if t.Failed() {
		t.Logf("all problems:\n%s", strings.Join(got, "\n"))
	}
}

const goodSchema = `- {name: HouseholdID, type: bigint, pii: id}
- {name: FirstName, type: string, pii: name}
- {name: State, type: string}
- {name: ZipCode, type: string, pii: geo}
- {name: Income, type: "decimal(10, 2)"}
- {name: 2ndHome, type: boolean}
- {name: Birth Date, type: date, pii: dob, as: birth_dt}
`

const goodHeader = "\xef\xbb\xbfHouseholdID,FirstName,State,ZipCode,Income,2ndHome,Birth Date\r\n"

const minimalSpec = `name: small
source:
  intake: intake/small/{month}/
  header: small.header.csv
schema: small.schema.yaml
output:
  table: small
  bucketed_by: [state]
  bucket_count: 4
catalog: {database: db}
`

func goodFiles() map[string]string {
	return map[string]string{
		"dir/job.yaml":          minimalSpec,
		"dir/small.schema.yaml": goodSchema,
		"dir/small.header.csv":  goodHeader,
	}
}

func TestParseAppliesDefaults(t *testing.T) {
	s, err := parseFiles(t, goodFiles())
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"Path", s.Path, "dir/job.yaml"},
		{"Lake", s.Lake, "file://./tierflow-lake"},
		{"Pattern", s.Source.Pattern, "*.csv.gz"},
		{"Delimiter", s.Source.Delimiter, byte(',')},
		{"NullMarkers", fmt.Sprint(s.Source.NullMarkers), "[]"},
		{"BucketingVersion", s.Output.BucketingVersion, 1},
		{"RowGroupBytes", s.Output.RowGroupBytes, int64(128 << 20)},
		{"Rejects", s.Rejects, Rejects{MaxRows: 1000, MaxFraction: 0.001}},
		{"MemoryBytes", s.Convert.MemoryBytes, int64(1 << 30)},
		{"Timeout", s.Timeout, 6 * time.Hour},
		{"Database", s.Database, "db"},
		{"SchemaFile", s.SchemaFile, "small.schema.yaml"},
		{"TaskCPU", s.AWS.TaskCPU, 4096},
		{"Header", strings.Join(s.Source.Header, "|"), "HouseholdID|FirstName|State|ZipCode|Income|2ndHome|Birth Date"},
		{"Names", strings.Join(s.Schema.Names(), "|"), "householdid|firstname|state|zipcode|income|c_2ndhome|birth_dt"},
		{"IntakePrefix", s.IntakePrefix("2020-03"), "intake/small/2020-03/"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
	if len(s.Source.NullMarkers) != 1 || s.Source.NullMarkers[0] != "" {
		t.Errorf("NullMarkers = %q, want [\"\"]", s.Source.NullMarkers)
	}
	c, i, ok := s.Column("income")
	if !ok || i != 4 || c.Type != (Type{Kind: Decimal, Precision: 10, Scale: 2}) || c.Source != "Income" {
		t.Errorf("Column(income) = %+v, %d, %v", c, i, ok)
	}
	if _, _, ok := s.Column("Income"); ok {
		t.Error("Column matched a vendor spelling; it takes normalised names")
	}
	if c, _, _ := s.Column("birth_dt"); c.PII != PIIDOB || c.Type.Kind != Date {
		t.Errorf("birth_dt = %+v", c)
	}
}

func TestParseDerivedDefaultsAndInlineSchema(t *testing.T) {
	spec := `name: inline
source: {intake: "in/{month}-", delimiter: "|", null_markers: ["\\N"]}
schema:
  - {name: a, type: int}
  - {name: b, type: string, pii: email}
output: {table: t}
catalog: {database: db}
derived:
  - table: d1
    sql: "with x as (select a from t) select a from x;"
`
	s, err := parseFiles(t, map[string]string{"dir/job.yaml": spec})
	if err != nil {
		t.Fatal(err)
	}
	if s.SchemaFile != "" || len(s.Schema.Columns) != 2 {
		t.Errorf("inline schema: SchemaFile %q, %d columns", s.SchemaFile, len(s.Schema.Columns))
	}
	if got := strings.Join(s.Source.Header, ","); got != "a,b" {
		t.Errorf("header without a sample = %q, want the schema's names", got)
	}
	if s.Source.Delimiter != '|' || s.Source.NullMarkers[0] != `\N` {
		t.Errorf("delimiter %q, null markers %q", s.Source.Delimiter, s.Source.NullMarkers)
	}
	if d := s.Derived[0]; d.Format != "parquet" || d.Compression != "snappy" || d.PII {
		t.Errorf("derived defaults: %+v", d)
	}
}

func TestParseReportsEveryProblemWithLines(t *testing.T) {
	files := goodFiles()
	files["dir/job.yaml"] = `name: Bad Name
lake: ftp://x
source:
  intake: /abs/{Month}/
  pattern: "[*.csv"
  header: small.header.csv
schema: small.schema.yaml
output:
  table: Small-Table
  bucketed_by: [state, income]
  bucket_count: 0
  bucketing_version: 3
  sorted_by: [nope]
  row_group_mb: 4096
  bucket_cout: 3
rejects: {max_rows: -1, max_fraction: 1.5}
convert: {workers: many, memory_mb: 16}
catalog: {database: 9lives}
schedule: "cron(0 6 2 * * *)"
timeout: forever
derived:
  - table: dup
    sql: "SELECT firstname FROM small; DROP TABLE small"
  - table: dup
    sql: ""
    format: orc
aws: {task_cpu: 4096, task_memory_mib: 4096, region: Mars}
`
	_, err := parseFiles(t, files)
	f := "dir/job.yaml"
	wantProblems(t, err,
		f+":1: name:",
		f+":2: lake:",
		f+":4: must contain {month}",
		f+":4: unknown placeholder {Month}",
		f+":4: is absolute",
		f+":5: source.pattern",
		f+":9: output.table",
		f+":10: column \"income\" is decimal(10,2); bucket columns must be",
		f+":11: output.bucket_count: must be 1..",
		f+":12: output.bucketing_version",
		f+":13: no column \"nope\"",
		f+":14: output.row_group_mb: must be 1..1024",
		f+":15: unknown key \"bucket_cout\" (did you mean \"bucket_count\"?)",
		f+":16: rejects.max_rows",
		f+":16: rejects.max_fraction",
		f+":17: convert.workers: must be an integer",
		f+":17: convert.memory_mb: must be at least 64",
		f+":18: catalog.database",
		f+":19: exactly one of day-of-month and day-of-week",
		f+":20: timeout:",
		f+":23: derived[0].sql: holds more than one statement",
		f+":24: derived[1].table: \"dup\" is also derived[0]",
		f+":25: derived[1].sql: is empty",
		f+":26: derived[1].format",
		f+":27: aws.region",
		f+":27: aws.task_memory_mib: 4096 is not allowed with task_cpu 4096",
	)
	// Text: Errors.Error's format is the report a user reads.
	if !strings.HasPrefix(err.Error(), "26 problems in job spec:\n  dir/job.yaml:1: ") {
		t.Errorf("Error() starts %q", err.Error()[:60])
	}
}

// parseSchema parses the minimal spec with schema as its schema file and
// no header sample (the schema's names are the header).
func parseSchema(t *testing.T, schema string) error {
	t.Helper()
	files := goodFiles()
	files["dir/small.schema.yaml"] = schema
	delete(files, "dir/small.header.csv")
	files["dir/job.yaml"] = strings.Replace(minimalSpec, "  header: small.header.csv\n", "", 1)
	_, err := parseFiles(t, files)
	return err
}

func TestParseSchemaProblems(t *testing.T) {
	err := parseSchema(t, `- {name: HouseholdID, type: bigint, pii: id}
- {name: First Name, type: string, pii: name}
- {name: FIRST_NAME, type: string}
- {name: State, type: varchar(2)}
- {name: Zip, type: "decimal(40,2)", pii: secret}
- {name: "###", type: int}
- {name: Month, type: string}
- {name: X, type: int, nullable: true}
- {name: HouseholdID, type: bigint}
- {type: int}
- {name: Y, as: y-1, type: int}
- {name: Z}
`)
	f := "dir/small.schema.yaml"
	wantProblems(t, err,
		f+":3: columns \"First Name\" (line 2) and \"FIRST_NAME\" both normalise to \"first_name\"",
		f+":4: unknown type \"varchar(2)\"",
		f+":5: precision must be 1..38",
		f+":5: unknown PII class \"secret\"",
		f+":6: normalises to an empty name",
		f+":7: taken by the partition column",
		f+":8: unknown key \"nullable\"",
		f+":9: \"HouseholdID\" is listed twice (also at line 1)",
		f+":10: column has no name",
		f+":11: name \"y-1\" has '-'",
		f+":12: column \"Z\" has no type",
	)
}

func TestParseHeaderMismatch(t *testing.T) {
	cases := []struct {
		name   string
		header string
		want   []string
	}{
		{"missing and extra", "HouseholdID,FirstName,State,Zip,Income,2ndHome\n", []string{
			"dir/small.header.csv:1: header field 4 \"Zip\" is not in the schema",
			"dir/small.schema.yaml:4: column \"ZipCode\" is not in the header sample",
			"dir/small.schema.yaml:7: column \"Birth Date\" is not in the header sample",
		}},
		{"order", "HouseholdID,State,FirstName,ZipCode,Income,2ndHome,Birth Date\n", []string{
			"dir/small.header.csv:1: header field 2 is \"State\" but schema column 2 is \"FirstName\" (dir/small.schema.yaml:2)",
		}},
		{"case differs", "householdid,FirstName,State,ZipCode,Income,2ndHome,Birth Date\n", []string{
			"dir/small.header.csv:1: header field 1 \"householdid\" is not in the schema",
			"dir/small.schema.yaml:1: column \"HouseholdID\" is not in the header sample",
		}},
		{"repeated", "HouseholdID,FirstName,State,ZipCode,Income,2ndHome,Birth Date,State\n", []string{
			"dir/small.header.csv:1: header field 8 \"State\" repeats field 3",
		}},
		{"empty", "", []string{"dir/small.header.csv: header sample is empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := goodFiles()
			files["dir/small.header.csv"] = c.header
			_, err := parseFiles(t, files)
			wantProblems(t, err, c.want...)
		})
	}
}

func TestParseFileReferences(t *testing.T) {
	files := goodFiles()
	files["dir/job.yaml"] = strings.NewReplacer("small.header.csv", "../etc/passwd", "small.schema.yaml", "missing.yaml").Replace(minimalSpec)
	_, err := parseFiles(t, files)
	wantProblems(t, err,
		"dir/job.yaml:4: climbs out with '..'",
		"dir/job.yaml:5: schema: cannot read schema file",
	)
}

func TestParseYAMLErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"", "dir/job.yaml: file is empty"},
		{"name: a\n  bad: [\n", "dir/job.yaml:2: invalid YAML"},
		{"- a\n- b\n", "dir/job.yaml:1: top level: must be a mapping"},
		{"name: a\nname: b\n", "dir/job.yaml:2: top level: key \"name\" repeated (first at line 1)"},
		{"name: a\n---\nname: b\n", "dir/job.yaml:2: more than one YAML document"},
	} {
		_, err := parseFiles(t, map[string]string{"dir/job.yaml": c.doc})
		got := problemsOf(t, err)
		if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, c.want) }) {
			t.Errorf("%q: problems %q lack %q", c.doc, got, c.want)
		}
	}
	// A spec missing its required keys says so at the top.
	_, err := parseFiles(t, map[string]string{"dir/job.yaml": "lake: file://x\n"})
	wantProblems(t, err,
		`dir/job.yaml:1: required key "name"`, `dir/job.yaml:1: required key "source"`,
		`dir/job.yaml:1: required key "schema"`, `dir/job.yaml:1: required key "output"`,
		`dir/job.yaml:1: required key "catalog"`)
}

func TestParsePIIPolicy(t *testing.T) {
	base := minimalSpec + "derived:\n  - table: d\n    sql: %s\n%s"
	for _, c := range []struct {
		sql, extra string
		want       []string
	}{
		{"SELECT state, count(*) AS n FROM small GROUP BY state", "", nil},
		{"SELECT state, firstname FROM small", "", []string{"dir/job.yaml:13: derived[0].sql: mentions PII columns firstname (name)"}},
		{`SELECT "ZipCode" FROM small WHERE state = 'firstname'`, "", []string{"mentions PII columns zipcode (geo)"}},
		{"SELECT * FROM small", "", []string{"dir/job.yaml:13: derived[0].sql: selects * from a table with PII"}},
		{"SELECT s.* FROM small s", "", []string{"selects *"}},
		{"SELECT state, firstname FROM small", "    pii: true\n", nil},
		{"SELECT * FROM small", "    pii: true\n", nil},
	} {
		checkDerived(t, base, c.sql, c.extra, c.want, false)
	}
}

// checkDerived loads the spec base with a derived table of sql (and the
// extra keys): it must load when want is nil, else fail with problems
// holding each of want (and, when exact, no others).
func checkDerived(t *testing.T, base, sql, extra string, want []string, exact bool) {
	t.Helper()
	files := goodFiles()
	files["dir/job.yaml"] = fmt.Sprintf(base, fmt.Sprintf("%q", sql), extra)
	_, err := parseFiles(t, files)
	if want == nil {
		if err != nil {
			t.Errorf("%s: %v", sql, err)
		}
		return
	}
	if err == nil {
		t.Errorf("%s: loads, want %q", sql, want)
		return
	}
	got := problemsOf(t, err)
	if exact && len(got) != len(want) {
		t.Errorf("%s: problems %q, want %d", sql, got, len(want))
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, w) }) {
			t.Errorf("%s: problems %q lack %q", sql, got, w)
		}
	}
}

func TestLoadShippedConsumerHeader(t *testing.T) {
	s, err := Load("consumer-header.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Schema.Columns); n < 400 {
		t.Errorf("%d columns, want ≥ 400", n)
	}
	c, _, ok := s.Column("state")
	if !ok || c.Type.Kind != String || !c.Type.Bucketable() {
		t.Errorf("state = %+v, %v", c, ok)
	}
	// The 50 states, DC, the territories and the military codes, each once;
	// the shipped job repairs case and blanks.
	if c.Check == nil || len(c.Check.Allowed) != 59 || len(c.Check.Allowed) != len(slices.Compact(slices.Sorted(slices.Values(c.Check.Allowed)))) {
		t.Errorf("state check = %+v, want 59 distinct codes", c.Check)
	} else {
		for _, code := range []string{"CA", "DC", "PR", "VI", "GU", "AS", "MP", "AA", "AE", "AP", "WY"} {
			if !slices.Contains(c.Check.Allowed, code) {
				t.Errorf("state check lacks %s", code)
			}
		}
	}
	if c.Normalize != NormTrim|NormUpper {
		t.Errorf("state normalize = %v, want trim, upper", c.Normalize)
	}
	if c, _, _ := s.Column("zipcode"); c.Type.Kind != String {
		t.Errorf("zipcode is %s; it must be a string to keep leading zeros", c.Type)
	}
	if got := fmt.Sprint(s.Output.BucketedBy, s.Output.BucketCount, s.Output.SortedBy); got != "[state] 60 [state]" {
		t.Errorf("output bucketing = %s", got)
	}
	if len(s.Derived) != 2 || s.Derived[0].Table != "consumer_ca" || !s.Derived[0].PII ||
		s.Derived[1].Table != "consumer_ca_deid" || s.Derived[1].PII {
		t.Fatalf("derived = %+v", s.Derived)
	}
	if !s.PII.Set || s.PII.Action(PIIName) != PIIHMAC || s.PII.Action(PIIPhone) != PIIDrop || s.PII.KeyFile != "" {
		t.Errorf("shipped PII policy = %+v (want name hmac, phone drop, no key file)", s.PII)
	}
	for _, col := range []string{"firstname", "lastname", "housenumber", "predirection", "streetname", "streetsuffix", "state", "zipcode"} {
		if !strings.Contains(s.Derived[0].SQL, col) {
			t.Errorf("consumer_ca SQL lacks %s", col)
		}
		if _, _, ok := s.Column(col); !ok {
			t.Errorf("consumer_ca selects %s, which is not a column", col)
		}
	}
	if len(s.Source.Header) != len(s.Schema.Columns) {
		t.Errorf("header has %d fields, schema %d columns", len(s.Source.Header), len(s.Schema.Columns))
	}
	for _, col := range s.Schema.Columns {
		if col.Name != strings.ToLower(col.Name) {
			t.Errorf("column %q is not lowercase", col.Name)
		}
	}
	for _, want := range []string{"household_member_female_age_18_24", "c_401kparticipant", "mail_order_responder"} {
		if _, _, ok := s.Column(want); !ok {
			t.Errorf("no column %s", want)
		}
	}
}

func TestLoadFS(t *testing.T) {
	files := goodFiles()
	fsys := fstest.MapFS{}
	for name, data := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(data)}
	}
	s, err := LoadFS(fsys, "dir/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Source.Header) != 7 {
		t.Errorf("header %q", s.Source.Header)
	}
	delete(fsys, "dir/small.header.csv")
	_, err = LoadFS(fsys, "dir/job.yaml")
	wantProblems(t, err, "dir/job.yaml:4: source.header: cannot read")
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}
