package jobs

import (
	"strings"
	"testing"
	"time"
)

func TestParseType(t *testing.T) {
	for _, c := range []struct {
		in, want string // want "" = error
	}{
		{"string", "string"}, {"INT", "int"}, {" bigint ", "bigint"}, {"double", "double"},
		{"boolean", "boolean"}, {"date", "date"}, {"timestamp", "timestamp"},
		{"decimal(10,2)", "decimal(10,2)"}, {"Decimal( 38 , 0 )", "decimal(38,0)"}, {"decimal(5)", "decimal(5,0)"},
		{"decimal(1,1)", "decimal(1,1)"},
		{"decimal", ""}, {"decimal(0,0)", ""}, {"decimal(39,2)", ""}, {"decimal(4,5)", ""}, {"decimal(4,-1)", ""},
		{"decimal(a,b)", ""}, {"decimal(10,2", ""}, {"varchar(10)", ""}, {"float", ""}, {"", ""}, {"Kind(9)", ""},
	} {
		typ, err := ParseType(c.in)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("ParseType(%q) = %s, want an error", c.in, typ)
		case c.want != "" && err != nil:
			t.Errorf("ParseType(%q): %v", c.in, err)
		case c.want != "" && typ.String() != c.want:
			t.Errorf("ParseType(%q) = %s, want %s", c.in, typ, c.want)
		}
		if err == nil {
			again, err := ParseType(typ.String())
			if err != nil || again != typ {
				t.Errorf("round trip of %s: %v, %v", typ, again, err)
			}
		}
	}
	bucketable := map[Kind]bool{String: true, Int: true, Bigint: true, Boolean: true}
	for k := String; k <= Decimal; k++ {
		if got := (Type{Kind: k}).Bucketable(); got != bucketable[k] {
			t.Errorf("%s.Bucketable() = %v", k, got)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"HouseholdID":                       "householdid",
		"HOUSEHOLD_MEMBER_FEMALE_AGE_18_24": "household_member_female_age_18_24",
		"Mail-Order  Responder":             "mail_order_responder",
		"__a__b__":                          "a_b",
		"401kParticipant":                   "c_401kparticipant",
		"Zip+4":                             "zip_4",
		"Straße":                            "stra_e",
		"###":                               "",
		"_9lives":                           "c_9lives",
	} {
		got := NormalizeName(in)
		if got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
		if got != "" && CheckName(got) != nil {
			t.Errorf("NormalizeName(%q) = %q fails CheckName: %v", in, got, CheckName(got))
		}
	}
	for _, bad := range []string{"", "Upper", "9a", "a-b", "a b", strings.Repeat("a", 256)} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) accepted it", bad)
		}
	}
	if err := CheckName(strings.Repeat("a", 255)); err != nil {
		t.Errorf("255 bytes: %v", err)
	}
}

func TestParseMonth(t *testing.T) {
	got, err := ParseMonth("2020-03")
	if err != nil || !got.Equal(time.Date(2020, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseMonth(2020-03) = %v, %v", got, err)
	}
	for _, bad := range []string{"2020-3", "2020-13", "2020-00", "2020/03", "20-03", "2020-03-01", "202a-03", "0000-01", ""} {
		if m, err := ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) = %v, want an error", bad, m)
		}
	}
}

func TestCheckCron(t *testing.T) {
	for _, good := range []string{
		"cron(0 6 2 * ? *)", "cron(15 10 ? * 6L 2022-2023)", "cron(0/15 * * * ? *)", "cron(0 8 1,15 JAN-MAR ? *)",
		"cron(0 18 ? * MON-FRI *)", "cron(0 0 L * ? *)", "cron(0 0 LW * ? *)", "cron(0 0 15W * ? *)", "cron(0 0 ? * 2#1 *)",
	} {
		if err := checkCron(good); err != nil {
			t.Errorf("checkCron(%q): %v", good, err)
		}
	}
	for _, bad := range []string{
		"0 6 2 * *", "cron(0 6 2 * ?)", "cron(0 6 2 * * *)", "cron(0 6 ? * ? *)", "cron(60 6 2 * ? *)",
		"cron(0 24 2 * ? *)", "cron(0 6 32 * ? *)", "cron(0 6 2 13 ? *)", "cron(0 6 ? * 8 *)", "cron(0 6 2 * ? 1969)",
		"cron(0 6 2 FOO ? *)", "cron(0/0 6 2 * ? *)", "cron(0 6 2,, * ? *)", "cron(0 6 ? * 2#6 *)", "cron(0 6 2 * ? *",
		"rate(1 day)",
	} {
		if err := checkCron(bad); err == nil {
			t.Errorf("checkCron(%q) accepted it", bad)
		}
	}
}

func TestCheckSelect(t *testing.T) {
	for _, good := range []string{
		"SELECT a FROM t", "select a from t;", " with x as (select 1) select * from x ;;",
		"(SELECT a FROM t) UNION ALL (SELECT a FROM u)", "SELECT 'a;b' AS s, \"we;ird\" FROM t -- ; comment\n",
		"SELECT /* ; */ a FROM t",
	} {
		if _, err := checkSelect(good); err != nil {
			t.Errorf("checkSelect(%q): %v", good, err)
		}
	}
	for _, bad := range []string{
		"", "  ;  ", "-- only a comment", "DROP TABLE t", "SELECT 1; SELECT 2", "INSERT INTO t SELECT 1",
		"SELECT 'unterminated", "SELECT \"x", "SELECT /* open", "DELETE FROM t WHERE a = 'select'",
	} {
		if _, err := checkSelect(bad); err == nil {
			t.Errorf("checkSelect(%q) accepted it", bad)
		}
	}
	for sql, want := range map[string]bool{
		"SELECT * FROM t": true, "SELECT t.* FROM t": true, "SELECT a, * FROM t": true, "SELECT DISTINCT * FROM t": true,
		"SELECT count(*) FROM t": false, "SELECT a * 2 FROM t": false, "SELECT a FROM t WHERE b IN (SELECT c FROM u)": false,
		"SELECT f(a, *) FROM t": false, "SELECT a FROM (SELECT * FROM t)": true,
	} {
		toks, err := checkSelect(sql)
		if err != nil {
			t.Fatal(err)
		}
		if got := selectsAll(toks); got != want {
			t.Errorf("selectsAll(%q) = %v, want %v", sql, got, want)
		}
	}
}

func TestSchemaHash(t *testing.T) {
	a := Schema{Columns: []Column{{Name: "a", Source: "A", Type: Type{Kind: Int}}, {Name: "b", Type: Type{Kind: Decimal, Precision: 10, Scale: 2}}}}
	b := Schema{Columns: []Column{{Name: "a", Source: "a", PII: PIIID, Comment: "x", Type: Type{Kind: Int}}, {Name: "b", Type: Type{Kind: Decimal, Precision: 10, Scale: 2}}}}
	if a.Hash() != b.Hash() {
		t.Error("hash depends on vendor spelling, PII or comment")
	}
	if len(a.Hash()) != 64 {
		t.Errorf("hash %q is not hex sha256", a.Hash())
	}
	changed := []Schema{
		{Columns: []Column{{Name: "a", Type: Type{Kind: Bigint}}, {Name: "b", Type: Type{Kind: Decimal, Precision: 10, Scale: 2}}}},
		{Columns: []Column{{Name: "a", Type: Type{Kind: Int}}, {Name: "b", Type: Type{Kind: Decimal, Precision: 10, Scale: 3}}}},
		{Columns: []Column{{Name: "b", Type: Type{Kind: Decimal, Precision: 10, Scale: 2}}, {Name: "a", Type: Type{Kind: Int}}}},
		{Columns: []Column{{Name: "ab", Type: Type{Kind: Int}}}},
	}
	for i, s := range changed {
		if s.Hash() == a.Hash() {
			t.Errorf("change %d did not change the hash", i)
		}
	}
	// The shipped schema's hash is pinned by its content, not by this test:
	// loading it twice must agree.
	s1, err := Load("consumer-header.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := Load("consumer-header.yaml")
	if s1.Schema.Hash() != s2.Schema.Hash() {
		t.Error("hash is not stable across loads")
	}
}
