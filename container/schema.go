package container

import (
	"fmt"

	"github.com/tierflow/tierflow/container/pqwrite"
	"github.com/tierflow/tierflow/jobs"
)

// parquetColumn maps a job schema column to the Parquet column it is
// written as: the one place where job types meet Parquet types (a new job
// type is added here, to the value parser in fields.go and, for a bucket
// column, to the Hive hash).
func parquetColumn(c jobs.Column) pqwrite.ColumnSpec {
	spec := pqwrite.ColumnSpec{Name: c.Name, Repetition: pqwrite.Optional}
	t := c.Type
	switch t.Kind {
	case jobs.String:
		spec.Physical, spec.Logical = pqwrite.ByteArray, pqwrite.String
	case jobs.Int:
		spec.Physical = pqwrite.Int32
	case jobs.Date:
		spec.Physical, spec.Logical = pqwrite.Int32, pqwrite.Date
	case jobs.Bigint:
		spec.Physical = pqwrite.Int64
	case jobs.Timestamp:
		spec.Physical, spec.Logical = pqwrite.Int64, pqwrite.TimestampMillis
	case jobs.Double:
		spec.Physical = pqwrite.Double
	case jobs.Boolean:
		spec.Physical = pqwrite.Boolean
	case jobs.Decimal:
		// As Hive and Spark store decimals: the smallest physical type
		// that holds every unscaled value of the precision.
		spec.Logical, spec.Precision, spec.Scale = pqwrite.Decimal, t.Precision, t.Scale
		switch {
		case t.Precision <= 9:
			spec.Physical = pqwrite.Int32
		case t.Precision <= 18:
			spec.Physical = pqwrite.Int64
		default:
			spec.Physical, spec.Length = pqwrite.FixedLenByteArray, pqwrite.DecimalBytes(t.Precision)
		}
	default:
		panic(fmt.Sprintf("container: unknown kind %d", t.Kind))
	}
	return spec
}
