// Package catalog defines the table catalog: databases, tables and
// partitions, shaped exactly like AWS Glue's TableInput / PartitionInput so
// that the local implementation and the Glue one map one to one.
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
package catalog

import (
	"context"
	"errors"
)

// ErrNotFound is returned (wrapped) for a missing database, table or partition.
var ErrNotFound = errors.New("catalog: not found")

// ErrConflict is returned (wrapped) when a conditional update loses a race:
// the object changed since the caller read it.
var ErrConflict = errors.New("catalog: conflict: changed concurrently")

// Hive class names used for Parquet tables (research/athena-compat.md §5).
const (
	ParquetInputFormat  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
	ParquetOutputFormat = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
	ParquetSerDe        = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
)

// Column is a Glue column: lowercase name and Hive type (string, int, bigint,
// double, boolean, date, timestamp, decimal(p,s)).
type Column struct {
	Name       string            `json:"Name"`
	Type       string            `json:"Type"`
	Comment    string            `json:"Comment,omitempty"`
	Parameters map[string]string `json:"Parameters,omitempty"`
}

// SortColumn is a Glue Order.
type SortColumn struct {
	Column    string `json:"Column"`
	SortOrder int    `json:"SortOrder"` // 1 ascending, 0 descending
}

// StorageDescriptor mirrors Glue's StorageDescriptor.
type StorageDescriptor struct {
	Columns         []Column          `json:"Columns"`
	Location        string            `json:"Location"`
	InputFormat     string            `json:"InputFormat"`
	OutputFormat    string            `json:"OutputFormat"`
	SerdeLibrary    string            `json:"SerializationLibrary"`
	SerdeParameters map[string]string `json:"SerdeParameters,omitempty"`
	Compressed      bool              `json:"Compressed"`
	NumberOfBuckets int               `json:"NumberOfBuckets"` // -1 or 0: not bucketed
	BucketColumns   []string          `json:"BucketColumns,omitempty"`
	SortColumns     []SortColumn      `json:"SortColumns,omitempty"`
}

// Table mirrors Glue's TableInput.
type Table struct {
	Database          string            `json:"DatabaseName"`
	Name              string            `json:"Name"`
	TableType         string            `json:"TableType"` // EXTERNAL_TABLE
	Parameters        map[string]string `json:"Parameters,omitempty"`
	PartitionKeys     []Column          `json:"PartitionKeys"`
	StorageDescriptor StorageDescriptor `json:"StorageDescriptor"`
	// Version is the catalog's change token (Glue VersionId); set by the
	// catalog on read, checked on conditional updates.
	Version string `json:"VersionId,omitempty"`
}

// Partition mirrors Glue's PartitionInput.
type Partition struct {
	Database          string            `json:"DatabaseName"`
	Table             string            `json:"TableName"`
	Values            []string          `json:"Values"`
	Parameters        map[string]string `json:"Parameters,omitempty"`
	StorageDescriptor StorageDescriptor `json:"StorageDescriptor"`
}

// Catalog stores databases, tables and partitions.
type Catalog interface {
	// EnsureDatabase creates the database if it does not exist.
	EnsureDatabase(ctx context.Context, name string) error
	// GetTable returns a table or an error wrapping ErrNotFound.
	GetTable(ctx context.Context, database, name string) (Table, error)
	// PutTable creates the table or replaces its definition.
	PutTable(ctx context.Context, t Table) error
	// DeleteTable removes a table and its partitions; missing is not an error.
	DeleteTable(ctx context.Context, database, name string) error
	// GetPartition returns one partition or an error wrapping ErrNotFound.
	GetPartition(ctx context.Context, database, table string, values []string) (Partition, error)
	// PutPartition creates the partition or switches it (location and all)
	// in one atomic step: readers see the old or the new one, never a mix.
	PutPartition(ctx context.Context, p Partition) error
	// ListPartitions returns the table's partitions ordered by values.
	ListPartitions(ctx context.Context, database, table string) ([]Partition, error)
	// DeletePartition removes one partition; missing is not an error.
	DeletePartition(ctx context.Context, database, table string, values []string) error
}
