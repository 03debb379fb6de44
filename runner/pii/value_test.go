package pii

import (
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
)

func TestCanonical(t *testing.T) {
	leaf := func(n parquet.Node) parquet.Type { return n.Type() }
	// 2020-03-01 12:34:56.5 UTC as INT96: nanoseconds of the day, Julian day.
	nanos := int64((12*3600+34*60+56)*1e9 + 5e8)
	int96 := deprecated.Int96{uint32(nanos), uint32(nanos >> 32), 2458910}
	for _, c := range []struct {
		name string
		typ  parquet.Type
		v    parquet.Value
		want string
	}{
		{"string", leaf(parquet.String()), parquet.ByteArrayValue([]byte("Zoë")), "Zoë"},
		{"int32", parquet.Int32Type, parquet.Int32Value(-42), "-42"},
		{"uint32", leaf(parquet.Uint(32)), parquet.Int32Value(-1), "4294967295"},
		{"uint64", leaf(parquet.Uint(64)), parquet.Int64Value(-1), "18446744073709551615"},
		{"int64", parquet.Int64Type, parquet.Int64Value(600000001), "600000001"},
		{"bool", parquet.BooleanType, parquet.BooleanValue(true), "true"},
		{"float", parquet.FloatType, parquet.FloatValue(0.1), "0.1"},
		{"double", parquet.DoubleType, parquet.DoubleValue(1e21), "1e+21"},
		{"date", leaf(parquet.Date()), parquet.Int32Value(-1), "1969-12-31"},
		{"ts millis", leaf(parquet.Timestamp(parquet.Millisecond)), parquet.Int64Value(1583066096500), "2020-03-01 12:34:56.5"},
		{"ts micros", leaf(parquet.Timestamp(parquet.Microsecond)), parquet.Int64Value(1583066096500000), "2020-03-01 12:34:56.5"},
		{"ts nanos", leaf(parquet.Timestamp(parquet.Nanosecond)), parquet.Int64Value(1583066096000000000), "2020-03-01 12:34:56"},
		{"int96", parquet.Int96Type, parquet.Int96Value(int96), "2020-03-01 12:34:56.5"},
		{"decimal int32", leaf(parquet.Decimal(2, 9, parquet.Int32Type)), parquet.Int32Value(-5), "-0.05"},
		{"decimal int64 scale 0", leaf(parquet.Decimal(0, 18, parquet.Int64Type)), parquet.Int64Value(123), "123"},
		{"decimal flba negative", leaf(parquet.Decimal(3, 20, parquet.FixedLenByteArrayType(9))),
			parquet.FixedLenByteArrayValue([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc, 0x18}), "-1.000"},
		{"uuid", leaf(parquet.UUID()), parquet.FixedLenByteArrayValue([]byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00}),
			"123e4567-e89b-12d3-a456-426614174000"},
	} {
		if got := string(Canonical(nil, c.typ, c.v)); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestToken(t *testing.T) {
	a, b := Token(testKey, "Alice"), Token(testKey, "Alice")
	if a != b || a != wantToken(testKey, "Alice") || len(a) != TokenHexDigits {
		t.Errorf("Token = %s, %s", a, b)
	}
	if Token(testKey, "Alice ") == a || Token(append([]byte{1}, testKey...), "Alice") == a {
		t.Error("a different value or key gave the same token")
	}
}

func TestRulesAndColumns(t *testing.T) {
	schema := jobs.Schema{Columns: []jobs.Column{
		{Name: "firstname", PII: jobs.PIIName}, {Name: "email", PII: jobs.PIIEmail}, {Name: "homephone", PII: jobs.PIIPhone},
		{Name: "state"}, {Name: "personid", PII: jobs.PIIID}, {Name: "zipcode", PII: jobs.PIIGeo},
	}}
	policy := jobs.PIIPolicy{Set: true, Actions: map[string]string{"name": "hmac", "email": "mask", "phone": "drop", "id": "hmac", "geo": "keep"}}
	rules := Rules(policy, schema, []string{"firstname", "email", "homephone", "state", "personid", "zipcode", "n"})
	want := map[string]Rule{"firstname": HMAC, "email": Mask, "homephone": Drop, "personid": HMAC, "zipcode": Keep}
	if len(rules) != len(want) {
		t.Errorf("rules %v", rules)
	}
	for k, v := range want {
		if rules[k] != v {
			t.Errorf("rule of %s = %q, want %q", k, rules[k], v)
		}
	}
	if !Changes(rules) || !NeedsKey(rules) || Changes(map[string]Rule{"zipcode": Keep}) || NeedsKey(map[string]Rule{"email": Mask}) {
		t.Error("Changes/NeedsKey")
	}
	cols := []catalog.Column{
		{Name: "firstname", Type: "string"}, {Name: "email", Type: "string"}, {Name: "homephone", Type: "string"},
		{Name: "state", Type: "string"}, {Name: "personid", Type: "bigint"}, {Name: "zipcode", Type: "string"}, {Name: "n", Type: "bigint"},
	}
	got := Columns(cols, rules, schema)
	var desc []string
	for _, c := range got {
		desc = append(desc, c.Name+":"+c.Type+":"+c.Parameters[ParamClass]+"/"+c.Parameters[ParamRule])
	}
	if s := join(desc); s != "firstname:string:name/hmac email:string:email/mask state:string:/ personid:string:id/hmac zipcode:string:geo/keep n:bigint:/" {
		t.Errorf("columns %s", s)
	}
	if cols[4].Type != "bigint" || cols[0].Parameters != nil {
		t.Error("Columns modified its input")
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
