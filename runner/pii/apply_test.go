package pii

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

var testKey = []byte("0123456789abcdef0123456789abcdef") // 32 bytes

// wantToken is HMAC-SHA256 computed here, independently of the package.
func wantToken(key []byte, text string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(text))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

func duck(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func lake(t *testing.T) (*file.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st, dir
}

// writeSample has DuckDB (an engine, as in the runner) write a file with
// every type a derived table can hold, NULLs included.
func writeSample(t *testing.T, db *sql.DB, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	q := `COPY (SELECT * FROM (VALUES
	  ('Alice', 'alice@example.com', '555-0100', 'CA', 600000001::BIGINT, 42::INTEGER, DATE '1980-02-29',
	   TIMESTAMP '2020-03-01 12:34:56.789', 12.50::DECIMAL(10,2), -1234567890123.4567::DECIMAL(30,4), 0.1::DOUBLE, true, ['x', 'y']),
	  ('Bob', NULL, '555-0101', 'NY', 600000002, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	  ('Alice', '', '555-0102', 'CA', 600000003, 7, DATE '2001-01-01',
	   TIMESTAMP '1999-12-31 23:59:59', -0.05, 0, -2.5e-7, false, [])
	) AS v(name, email, phone, state, id, age, birth, seen, amount, big, score, flag, tags))
	TO '` + path + `' (FORMAT parquet, COMPRESSION zstd)`
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

type described struct{ name, typ string }

func describe(t *testing.T, db *sql.DB, path string) []described {
	t.Helper()
	rs, err := db.Query(fmt.Sprintf("DESCRIBE SELECT * FROM read_parquet('%s')", path))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []described
	cols, _ := rs.Columns()
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, described{fmt.Sprint(vals[0]), fmt.Sprint(vals[1])})
	}
	return out
}

// strings reads column expressions as text (NULL = "<null>") in file order.
func readText(t *testing.T, db *sql.DB, path string, exprs ...string) [][]string {
	t.Helper()
	for i, e := range exprs {
		exprs[i] = "coalesce(CAST(" + e + " AS VARCHAR), '<null>')"
	}
	rs, err := db.Query(fmt.Sprintf("SELECT %s FROM read_parquet('%s')", strings.Join(exprs, ", "), path))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out [][]string
	for rs.Next() {
		row := make([]string, len(exprs))
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
	}
	return out
}

func TestApplyEveryRuleAndType(t *testing.T) {
	ctx := context.Background()
	st, dir := lake(t)
	db := duck(t)
	writeSample(t, db, filepath.Join(dir, "t3", "part-0.parquet"))

	rules := map[string]Rule{
		"name": HMAC, "email": Mask, "phone": Drop, "state": Keep,
		"id": HMAC, "age": Mask, "birth": Mask, "seen": HMAC, "amount": HMAC, "big": HMAC, "score": HMAC, "flag": HMAC,
	}
	got, err := Apply(ctx, st, []string{st.ObjectURI("t3/part-0.parquet")}, rules, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Key != "t3/part-0.pii.parquet" || got[0].Rows != 3 || got[0].URI != st.ObjectURI(got[0].Key) {
		t.Fatalf("Apply = %+v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "t3", "part-0.parquet")); !os.IsNotExist(err) {
		t.Errorf("original still there (err %v)", err)
	}
	out := filepath.Join(dir, "t3", "part-0.pii.parquet")
	if fi, err := os.Stat(out); err != nil || fi.Size() != got[0].Bytes {
		t.Errorf("new file: %v, size vs reported %d", err, got[0].Bytes)
	}

	// Schema, as DuckDB reads it: phone gone, order kept, hashed columns
	// strings, masked ones keep their type.
	want := []described{
		{"name", "VARCHAR"}, {"email", "VARCHAR"}, {"state", "VARCHAR"}, {"id", "VARCHAR"}, {"age", "INTEGER"},
		{"birth", "DATE"}, {"seen", "VARCHAR"}, {"amount", "VARCHAR"}, {"big", "VARCHAR"}, {"score", "VARCHAR"},
		{"flag", "VARCHAR"}, {"tags", "VARCHAR[]"},
	}
	if d := describe(t, db, out); !reflect.DeepEqual(d, want) {
		t.Errorf("schema\n got %v\nwant %v", d, want)
	}

	rows := readText(t, db, out, "name", "email", "state", "id", "age", "birth", "seen", "amount", "big", "score", "flag", "tags")
	tok := func(s string) string { return wantToken(testKey, s) }
	wantRows := [][]string{
		{tok("Alice"), "****", "CA", tok("600000001"), "<null>", "<null>", tok("2020-03-01 12:34:56.789"), tok("12.50"),
			tok("-1234567890123.4567"), tok("0.1"), tok("true"), "[x, y]"},
		{tok("Bob"), "<null>", "NY", tok("600000002"), "<null>", "<null>", "<null>", "<null>", "<null>", "<null>", "<null>", "<null>"},
		{tok("Alice"), "****", "CA", tok("600000003"), "<null>", "<null>", tok("1999-12-31 23:59:59"), tok("-0.05"),
			tok("0.0000"), tok("-2.5e-07"), tok("false"), "[]"},
	}
	if !reflect.DeepEqual(rows, wantRows) {
		for i := range rows {
			t.Errorf("row %d\n got %q\nwant %q", i, rows[i], wantRows[i])
		}
	}
	// Same input, same token (joins work); the token is 32 hex digits.
	if rows[0][0] != rows[2][0] || len(rows[0][0]) != TokenHexDigits {
		t.Errorf("tokens of Alice differ or have the wrong length: %q %q", rows[0][0], rows[2][0])
	}
	if Token(testKey, "Alice") != rows[0][0] {
		t.Errorf("Token(Alice) = %s, file has %s", Token(testKey, "Alice"), rows[0][0])
	}

	// No original value survives anywhere in the file's bytes: page data,
	// dictionaries and footer statistics (min/max) included.
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"Alice", "Bob", "alice@example.com", "555-0100", "555-0101", "600000001"} {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("rewritten file still holds %q", v)
		}
	}
	// Snappy, as promised, in every column chunk.
	f, err := parquet.OpenFile(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range f.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if c.MetaData.Codec.String() != "SNAPPY" {
				t.Errorf("column %v: codec %s", c.MetaData.PathInSchema, c.MetaData.Codec)
			}
		}
	}
}

func TestApplyHMACDependsOnKeyOnly(t *testing.T) {
	ctx := context.Background()
	st, dir := lake(t)
	db := duck(t)
	for _, p := range []string{"a/x.parquet", "b/y.parquet", "c/z.parquet"} {
		writeSample(t, db, filepath.Join(dir, filepath.FromSlash(p)))
	}
	rules := map[string]Rule{"name": HMAC, "email": HMAC}
	other := bytes.Repeat([]byte{7}, 40)
	if _, err := Apply(ctx, st, []string{"a/x.parquet", "b/y.parquet"}, rules, testKey); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, st, []string{"c/z.parquet"}, rules, other); err != nil {
		t.Fatal(err)
	}
	x := readText(t, db, filepath.Join(dir, "a", "x.pii.parquet"), "name", "email")
	y := readText(t, db, filepath.Join(dir, "b", "y.pii.parquet"), "name", "email")
	z := readText(t, db, filepath.Join(dir, "c", "z.pii.parquet"), "name", "email")
	if !reflect.DeepEqual(x, y) {
		t.Errorf("same key, same values, different tokens:\n%q\n%q", x, y)
	}
	if x[0][0] == z[0][0] || x[0][1] == z[0][1] {
		t.Errorf("another key gave the same token: %q vs %q", x[0], z[0])
	}
	// The empty string is a value, not NULL: it has a token too.
	if x[2][1] != wantToken(testKey, "") {
		t.Errorf("token of '' = %q", x[2][1])
	}
}

// TestApplyRequiredColumns uses parquet-go's own writer, whose struct
// fields are required: a masked required int becomes optional NULL, a
// hashed required string stays required.
func TestApplyRequiredColumns(t *testing.T) {
	type rec struct {
		Name  string `parquet:"name"`
		Age   int32  `parquet:"age"`
		State string `parquet:"state"`
	}
	ctx := context.Background()
	st, dir := lake(t)
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[rec](&buf)
	if _, err := w.Write([]rec{{"Carol", 51, "TX"}, {"Dan", 33, "TX"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := storage.Put(ctx, st, "r/p.parquet", &buf, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, st, []string{"r/p.parquet"}, map[string]Rule{"name": HMAC, "age": Mask}, testKey); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "r", "p.pii.parquet")
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var reps []string
	for _, fld := range f.Schema().Fields() {
		reps = append(reps, fmt.Sprintf("%s:%v/%v", fld.Name(), fld.Required(), fld.Type()))
	}
	if got := strings.Join(reps, " "); got != "name:true/STRING age:false/INT(32,true) state:true/STRING" {
		t.Errorf("schema %s", got)
	}
	got := readText(t, duck(t), out, "name", "age", "state")
	want := [][]string{{wantToken(testKey, "Carol"), "<null>", "TX"}, {wantToken(testKey, "Dan"), "<null>", "TX"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
}

func TestApplyManyFilesAndRowGroups(t *testing.T) {
	ctx := context.Background()
	st, dir := lake(t)
	db := duck(t)
	var files []string
	for i := range 5 {
		p := filepath.Join(dir, "m", fmt.Sprintf("part-%d.parquet", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf(`COPY (SELECT 'person-' || (i + %d) AS name, i %% 7 AS k FROM range(20000) t(i))
			TO '%s' (FORMAT parquet, ROW_GROUP_SIZE 3000)`, i*100000, p)
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
		files = append(files, fmt.Sprintf("m/part-%d.parquet", i))
	}
	got, err := Apply(ctx, st, files, map[string]Rule{"name": HMAC}, testKey)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, fi := range got {
		rows += fi.Rows
	}
	if rows != 100000 {
		t.Errorf("rows %d", rows)
	}
	var n, distinct, bad int64
	q := fmt.Sprintf(`SELECT count(*), count(DISTINCT name), count(*) FILTER (WHERE NOT regexp_full_match(name, '[0-9a-f]{32}'))
		FROM read_parquet('%s/m/*.parquet')`, dir)
	if err := db.QueryRow(q).Scan(&n, &distinct, &bad); err != nil {
		t.Fatal(err)
	}
	if n != 100000 || distinct != 100000 || bad != 0 {
		t.Errorf("rows %d distinct tokens %d not-a-token %d", n, distinct, bad)
	}
	// One of them, checked exactly.
	var tok string
	if err := db.QueryRow(fmt.Sprintf("SELECT name FROM read_parquet('%s/m/part-3.pii.parquet') WHERE k = 5 LIMIT 1 OFFSET 0", dir)).Scan(&tok); err != nil {
		t.Fatal(err)
	}
	if tok != wantToken(testKey, "person-300005") {
		t.Errorf("first k=5 token of part 3 is %s", tok)
	}
	// Row groups are kept.
	raw, _ := os.ReadFile(filepath.Join(dir, "m", "part-0.pii.parquet"))
	f, err := parquet.OpenFile(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.RowGroups()) < 2 {
		t.Errorf("%d row groups", len(f.RowGroups()))
	}
}

func TestApplyRefusesAndLeavesOriginals(t *testing.T) {
	ctx := context.Background()
	st, dir := lake(t)
	db := duck(t)
	writeSample(t, db, filepath.Join(dir, "e", "a.parquet"))
	writeSample(t, db, filepath.Join(dir, "e", "b.parquet"))
	all := map[string]Rule{}
	for _, c := range []string{"name", "email", "phone", "state", "id", "age", "birth", "seen", "amount", "big", "score", "flag", "tags"} {
		all[c] = Drop
	}
	// A refusal is an error of a kind (is), or one whose message names
	// the column and rule a user must fix (says).
	for _, c := range []struct {
		name  string
		rules map[string]Rule
		key   []byte
		is    error
		says  string
	}{
		{"missing column", map[string]Rule{"nickname": Mask}, nil, nil, "no column nickname to mask"},
		{"no key", map[string]Rule{"name": HMAC}, nil, ErrShortKey, ""},
		{"short key", map[string]Rule{"name": HMAC}, []byte("short"), ErrShortKey, ""},
		{"nested", map[string]Rule{"tags": Mask}, nil, nil, "column tags is nested or repeated"},
		{"everything dropped", all, nil, nil, "drops every column"},
		{"unknown rule", map[string]Rule{"name": "scramble"}, nil, nil, `unknown rule "scramble"`},
	} {
		_, err := Apply(ctx, st, []string{"e/a.parquet", "e/b.parquet"}, c.rules, c.key)
		if err == nil || c.is != nil && !errors.Is(err, c.is) || c.says != "" && !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: err %v, want %v %q", c.name, err, c.is, c.says)
		}
	}
	var keys []string
	st.List(ctx, "e/", func(o storage.Object) error { keys = append(keys, o.Key); return nil })
	sort.Strings(keys)
	if strings.Join(keys, " ") != "e/a.parquet e/b.parquet" {
		t.Errorf("after failures the prefix holds %v", keys)
	}
	// A URI outside the lake is refused.
	if _, err := Apply(ctx, st, []string{"s3://elsewhere/x.parquet"}, map[string]Rule{"name": Drop}, nil); err == nil {
		t.Error("a file outside the lake was accepted")
	}
}

func TestApplyKeepOnlyRewritesNothing(t *testing.T) {
	ctx := context.Background()
	st, dir := lake(t)
	writeSample(t, duck(t), filepath.Join(dir, "k", "a.parquet"))
	before, _ := os.ReadFile(filepath.Join(dir, "k", "a.parquet"))
	got, err := Apply(ctx, st, []string{"k/a.parquet"}, map[string]Rule{"state": Keep}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "k", "a.parquet"))
	if len(got) != 1 || got[0].Key != "k/a.parquet" || got[0].Bytes != int64(len(before)) || !bytes.Equal(before, after) {
		t.Errorf("keep-only Apply = %+v", got)
	}
}
