//go:build cgo && !noduckdb

package duckdb

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var (
	hiveDecimal   = regexp.MustCompile(`^decimal\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$`)
	hiveChar      = regexp.MustCompile(`^(?:var)?char\s*\(\s*\d+\s*\)$`)
	duckDecimal   = regexp.MustCompile(`^DECIMAL\((\d+),(\d+)\)$`)
	hiveColumnRex = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

// duckType maps a Hive (Glue) column type to the DuckDB type the views cast
// to.
func duckType(hive string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(hive))
	switch t {
	case "string", "varchar":
		return "VARCHAR", nil
	case "tinyint":
		return "TINYINT", nil
	case "smallint":
		return "SMALLINT", nil
	case "int", "integer":
		return "INTEGER", nil
	case "bigint":
		return "BIGINT", nil
	case "float":
		return "FLOAT", nil
	case "double":
		return "DOUBLE", nil
	case "boolean":
		return "BOOLEAN", nil
	case "date":
		return "DATE", nil
	case "timestamp":
		return "TIMESTAMP", nil
	case "binary":
		return "BLOB", nil
	}
	if hiveChar.MatchString(t) {
		return "VARCHAR", nil
	}
	if m := hiveDecimal.FindStringSubmatch(t); m != nil {
		p, s := 10, 0 // Hive's default for a bare decimal
		if m[1] != "" {
			p, _ = strconv.Atoi(m[1])
		}
		if m[2] != "" {
			s, _ = strconv.Atoi(m[2])
		}
		if p < 1 || p > 38 || s > p {
			return "", fmt.Errorf("hive type %q: precision must be 1..38 and scale ≤ precision", hive)
		}
		return fmt.Sprintf("DECIMAL(%d,%d)", p, s), nil
	}
	return "", fmt.Errorf("hive type %q is not supported by the local engine", hive)
}

// hiveType maps a DuckDB result column type to the Hive type it is written
// and registered as. cast is the DuckDB type to cast to first when DuckDB's
// own type has no Hive equivalent that Athena would produce for the same SQL
// (sum(int) is HUGEINT in DuckDB, bigint in Trino; DuckDB would write
// HUGEINT to Parquet as DOUBLE); empty when no cast is needed.
func hiveType(duck string) (hive, cast string, err error) {
	switch duck {
	case "VARCHAR":
		return "string", "", nil
	case "BOOLEAN":
		return "boolean", "", nil
	case "TINYINT":
		return "tinyint", "", nil
	case "SMALLINT":
		return "smallint", "", nil
	case "INTEGER":
		return "int", "", nil
	case "BIGINT":
		return "bigint", "", nil
	case "HUGEINT", "UBIGINT", "UHUGEINT":
		// Out-of-range values fail the statement (DuckDB casts are checked).
		return "bigint", "BIGINT", nil
	case "UTINYINT":
		return "smallint", "SMALLINT", nil
	case "USMALLINT":
		return "int", "INTEGER", nil
	case "UINTEGER":
		return "bigint", "BIGINT", nil
	case "FLOAT":
		return "float", "", nil
	case "DOUBLE":
		return "double", "", nil
	case "DATE":
		return "date", "", nil
	case "TIMESTAMP":
		return "timestamp", "", nil
	case "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS":
		return "timestamp", "TIMESTAMP", nil
	case "BLOB":
		return "binary", "", nil
	}
	if m := duckDecimal.FindStringSubmatch(duck); m != nil {
		return "decimal(" + m[1] + "," + m[2] + ")", "", nil
	}
	return "", "", fmt.Errorf("type %s has no Hive equivalent; CAST it to one of string, int, bigint, double, boolean, date, timestamp, decimal(p,s)", duck)
}
