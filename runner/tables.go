package runner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/storage"
)

// PIIParam is the column parameter carrying a column's PII class.
const PIIParam = "tierflow.pii"

// MonthKey is the partition key of every table tierflow writes.
var MonthKey = catalog.Column{Name: "month", Type: "string", Comment: "data month, YYYY-MM"}

// parquetSD is the storage descriptor shared by every Parquet table and
// partition (research/athena-compat.md §5).
func parquetSD(cols []catalog.Column, location string) catalog.StorageDescriptor {
	return catalog.StorageDescriptor{
		Columns:         cols,
		Location:        location,
		InputFormat:     catalog.ParquetInputFormat,
		OutputFormat:    catalog.ParquetOutputFormat,
		SerdeLibrary:    catalog.ParquetSerDe,
		SerdeParameters: map[string]string{"serialization.format": "1"},
		NumberOfBuckets: -1,
	}
}

// Tier2Table is the catalog definition of the job's tier-2 table: Parquet
// SerDe, lowercase columns, bucket columns and count, sort columns, no
// Spark provider parameters.
func Tier2Table(st storage.Storage, spec *jobs.Spec) catalog.Table {
	cols := make([]catalog.Column, len(spec.Schema.Columns))
	for i, c := range spec.Schema.Columns {
		cols[i] = catalog.Column{Name: c.Name, Type: c.Type.String(), Comment: c.Comment}
		if c.PII != "" {
			cols[i].Parameters = map[string]string{PIIParam: c.PII}
		}
	}
	sd := parquetSD(cols, DirURI(st, jobs.TableRoot(2, spec.Output.Table)))
	if spec.Output.BucketCount > 0 && len(spec.Output.BucketedBy) > 0 {
		sd.NumberOfBuckets = spec.Output.BucketCount
		sd.BucketColumns = append([]string(nil), spec.Output.BucketedBy...)
	}
	// The converter sorts each file by sorted_by, ascending with NULLs
	// first (Hive's ascending order); the catalog says so, as Athena CTAS
	// and Hive record sorted_by.
	for _, c := range spec.Output.SortedBy {
		sd.SortColumns = append(sd.SortColumns, catalog.SortColumn{Column: c, SortOrder: 1})
	}
	version := spec.Output.BucketingVersion
	if version == 0 {
		version = 1
	}
	return catalog.Table{
		Database:  spec.Database,
		Name:      spec.Output.Table,
		TableType: "EXTERNAL_TABLE",
		Parameters: map[string]string{
			"EXTERNAL":            "TRUE",
			"classification":      "parquet",
			"parquet.compression": "SNAPPY",
			"bucketing_version":   strconv.Itoa(version),
			"tierflow.job":        spec.Name,
		},
		PartitionKeys:     []catalog.Column{MonthKey},
		StorageDescriptor: sd,
	}
}

// DerivedTable is the catalog definition of a tier-3 table built by CTAS.
func DerivedTable(st storage.Storage, spec *jobs.Spec, d jobs.Derived, cols []catalog.Column) catalog.Table {
	sd := parquetSD(cols, DirURI(st, jobs.TableRoot(3, d.Table)))
	if d.BucketCount > 0 && len(d.BucketedBy) > 0 {
		sd.NumberOfBuckets = d.BucketCount
		sd.BucketColumns = append([]string(nil), d.BucketedBy...)
	}
	return catalog.Table{
		Database:  spec.Database,
		Name:      d.Table,
		TableType: "EXTERNAL_TABLE",
		Parameters: map[string]string{
			"EXTERNAL":            "TRUE",
			"classification":      "parquet",
			"parquet.compression": "SNAPPY",
			"tierflow.job":        spec.Name,
		},
		PartitionKeys:     []catalog.Column{MonthKey},
		StorageDescriptor: sd,
	}
}

// MonthPartition is the partition of t for month at location; it carries
// the table's bucketing, as Trino requires of every partition.
func MonthPartition(t catalog.Table, month, location, runID string) catalog.Partition {
	sd := t.StorageDescriptor
	sd.Location = location
	return catalog.Partition{
		Database:          t.Database,
		Table:             t.Name,
		Values:            []string{month},
		Parameters:        map[string]string{"tierflow.run": runID},
		StorageDescriptor: sd,
	}
}

// checkAthenaWriters refuses a CTAS Athena could not run: partitions ×
// buckets above its 100 open writers. One month is one partition here.
func checkAthenaWriters(d jobs.Derived) error {
	if d.BucketCount > 100 {
		return fmt.Errorf("derived table %s: bucket_count %d exceeds Athena's 100 open writers per CTAS", d.Table, d.BucketCount)
	}
	return nil
}

// engineInput is the view the engine gives a source table: the staged
// partition of this run, not yet published.
func engineInput(t catalog.Table, p catalog.Partition) engine.Input {
	return engine.Input{Table: t, Partitions: []catalog.Partition{p}}
}

// DirURI is the URI of a key prefix, with a trailing slash, as catalogs
// expect for locations.
func DirURI(st storage.Storage, prefix string) string {
	u := st.ObjectURI(strings.TrimSuffix(prefix, "/"))
	return u + "/"
}
