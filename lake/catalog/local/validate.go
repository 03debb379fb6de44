package local

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/tierflow/tierflow/lake/catalog"
)

// ErrInvalid is returned (wrapped) for a table or partition the catalog
// refuses to store.
var ErrInvalid = errors.New("catalog: invalid input")

// maxNameLen is Glue's and Athena's limit for names.
const maxNameLen = 255

// foldName lowercases a database or table name, as Glue does, and checks it
// against Athena's rule: letters, digits and underscore only.
func foldName(kind, name string) (string, error) {
	n := strings.ToLower(name)
	if n == "" || len(n) > maxNameLen {
		return "", fmt.Errorf("%s name %q: %w: want 1 to %d characters", kind, name, ErrInvalid, maxNameLen)
	}
	for _, r := range n {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return "", fmt.Errorf("%s name %q: %w: only a-z, 0-9 and _ are allowed", kind, name, ErrInvalid)
		}
	}
	return n, nil
}

// checkColumnName requires a lowercase, printable name: Trino matches bucket
// columns against Glue column names by exact string, so folding here would
// only hide a mismatch elsewhere.
func checkColumnName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("column name %q: want 1 to %d characters", name, maxNameLen)
	}
	if strings.ToLower(name) != name {
		return fmt.Errorf("column name %q is not lowercase", name)
	}
	if strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("column name %q has non-printable characters", name)
	}
	return nil
}

// ValidateTable checks t the way Glue and Athena would and returns it with
// database and table names folded to lowercase:
//   - names valid (see package doc), every column named and typed, no name
//     used twice across data columns and partition keys;
//   - NumberOfBuckets > 0 requires BucketColumns, each naming a data column
//     (not a partition key), and BucketColumns require NumberOfBuckets > 0;
//   - SortColumns name data columns, with SortOrder 0 or 1.
//
// It is exported so other implementations (Glue) can apply the same rules.
func ValidateTable(t catalog.Table) (catalog.Table, error) {
	var err error
	if t.Database, err = foldName("database", t.Database); err != nil {
		return t, err
	}
	if t.Name, err = foldName("table", t.Name); err != nil {
		return t, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("table %s.%s: %w: %s", t.Database, t.Name, ErrInvalid, fmt.Sprintf(format, args...))
	}
	sd := t.StorageDescriptor
	data := map[string]bool{}
	seen := map[string]bool{}
	for _, c := range slices.Concat(sd.Columns, t.PartitionKeys) {
		if err := checkColumnName(c.Name); err != nil {
			return t, bad("%v", err)
		}
		if c.Type == "" {
			return t, bad("column %q has no type", c.Name)
		}
		if seen[c.Name] {
			return t, bad("column %q defined twice", c.Name)
		}
		seen[c.Name] = true
	}
	for _, c := range sd.Columns {
		data[c.Name] = true
	}
	if err := checkBucketing(sd, data); err != nil {
		return t, bad("%v", err)
	}
	return t, nil
}

func checkBucketing(sd catalog.StorageDescriptor, data map[string]bool) error {
	switch {
	case sd.NumberOfBuckets > 0 && len(sd.BucketColumns) == 0:
		return fmt.Errorf("NumberOfBuckets %d without BucketColumns", sd.NumberOfBuckets)
	case sd.NumberOfBuckets <= 0 && len(sd.BucketColumns) > 0:
		return fmt.Errorf("BucketColumns %q without NumberOfBuckets", sd.BucketColumns)
	}
	for _, b := range sd.BucketColumns {
		if !data[b] {
			return fmt.Errorf("bucket column %q is not a data column", b)
		}
	}
	for _, s := range sd.SortColumns {
		if !data[s.Column] {
			return fmt.Errorf("sort column %q is not a data column", s.Column)
		}
		if s.SortOrder != 0 && s.SortOrder != 1 {
			return fmt.Errorf("sort column %q: SortOrder %d, want 0 or 1", s.Column, s.SortOrder)
		}
	}
	return nil
}

// ValidatePartition checks p against its (validated) table t and returns it
// with database and table names taken from t:
//   - one non-empty value per partition key;
//   - the same NumberOfBuckets and BucketColumns as the table, because
//     Trino (Athena) fails a query with HIVE_PARTITION_SCHEMA_MISMATCH
//     otherwise (research/athena-compat.md §0).
func ValidatePartition(t catalog.Table, p catalog.Partition) (catalog.Partition, error) {
	p.Database, p.Table = t.Database, t.Name
	bad := func(format string, args ...any) error {
		return fmt.Errorf("partition %s.%s %q: %w: %s", t.Database, t.Name, p.Values, ErrInvalid, fmt.Sprintf(format, args...))
	}
	if len(t.PartitionKeys) == 0 {
		return p, bad("table has no partition keys")
	}
	if len(p.Values) != len(t.PartitionKeys) {
		return p, bad("%d values for %d partition keys", len(p.Values), len(t.PartitionKeys))
	}
	for i, v := range p.Values {
		if v == "" {
			return p, bad("empty value for key %q", t.PartitionKeys[i].Name)
		}
	}
	tb, pb := max(t.StorageDescriptor.NumberOfBuckets, 0), max(p.StorageDescriptor.NumberOfBuckets, 0)
	if tb != pb || !slices.Equal(t.StorageDescriptor.BucketColumns, p.StorageDescriptor.BucketColumns) {
		return p, bad("bucketing %d %q differs from the table's %d %q",
			pb, p.StorageDescriptor.BucketColumns, tb, t.StorageDescriptor.BucketColumns)
	}
	data := map[string]bool{}
	for _, c := range t.StorageDescriptor.Columns {
		data[c.Name] = true
	}
	if err := checkBucketing(p.StorageDescriptor, data); err != nil {
		return p, bad("%v", err)
	}
	return p, nil
}
