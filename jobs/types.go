package jobs

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxDecimalPrecision is the largest decimal precision Hive, Glue and
// Parquet agree on.
const MaxDecimalPrecision = 38

var kindNames = [...]string{
	String:    "string",
	Int:       "int",
	Bigint:    "bigint",
	Double:    "double",
	Boolean:   "boolean",
	Date:      "date",
	Timestamp: "timestamp",
	Decimal:   "decimal",
}

// String returns the kind's Hive/Glue name (without decimal parameters).
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// String returns the Hive/Glue type name, e.g. "bigint" or "decimal(10,2)".
func (t Type) String() string {
	if t.Kind == Decimal {
		return "decimal(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")"
	}
	return t.Kind.String()
}

// Bucketable reports whether a column of this type can be a bucket column.
// Only the types Trino (Athena engine v3) builds a bucket filter for are
// allowed: a table bucketed on anything else is written but never pruned,
// and Trino cannot hash timestamp or decimal at all.
func (t Type) Bucketable() bool {
	switch t.Kind {
	case String, Int, Bigint, Boolean:
		return true
	}
	return false
}

// ParseType parses a schema type name: string, int, bigint, double, boolean,
// date, timestamp or decimal(p,s) with 1 ≤ p ≤ 38 and 0 ≤ s ≤ p
// (decimal(p) means scale 0). Case and blanks are ignored.
func ParseType(s string) (Type, error) {
	t := strings.ToLower(strings.Join(strings.Fields(s), ""))
	for k, name := range kindNames {
		if t == name && Kind(k) != Decimal {
			return Type{Kind: Kind(k)}, nil
		}
	}
	args, ok := strings.CutPrefix(t, "decimal(")
	if !ok {
		if t == "decimal" {
			return Type{}, fmt.Errorf("type %q: decimal needs a precision and scale, e.g. decimal(10,2)", s)
		}
		return Type{}, fmt.Errorf("unknown type %q (want string, int, bigint, double, boolean, date, timestamp or decimal(p,s))", s)
	}
	args, ok = strings.CutSuffix(args, ")")
	if !ok {
		return Type{}, fmt.Errorf("type %q: missing ')'", s)
	}
	ps, ss, hasScale := strings.Cut(args, ",")
	p, err := strconv.Atoi(ps)
	if err != nil {
		return Type{}, fmt.Errorf("type %q: precision %q is not a number", s, ps)
	}
	sc := 0
	if hasScale {
		if sc, err = strconv.Atoi(ss); err != nil {
			return Type{}, fmt.Errorf("type %q: scale %q is not a number", s, ss)
		}
	}
	if p < 1 || p > MaxDecimalPrecision {
		return Type{}, fmt.Errorf("type %q: precision must be 1..%d", s, MaxDecimalPrecision)
	}
	if sc < 0 || sc > p {
		return Type{}, fmt.Errorf("type %q: scale must be 0..precision", s)
	}
	return Type{Kind: Decimal, Precision: p, Scale: sc}, nil
}
