// Package glue implements catalog.Catalog on the AWS Glue Data Catalog with
// aws-sdk-go-v2, writing tables and partitions exactly as Athena reads them
// (research/athena-compat.md §5): TableType EXTERNAL_TABLE, PartitionKeys
// always present (an empty list when there are none), lowercase column
// names, NumberOfBuckets -1 when not bucketed, and the table's
// NumberOfBuckets/BucketColumns on every partition.
//
// Glue itself accepts definitions Athena then fails queries on, so the
// catalog checks them first with the same rules as the local catalog
// (local.ValidateTable, local.ValidatePartition) plus the Spark parameters
// that make Trino ignore Hive bucketing. Errors wrap catalog.ErrNotFound
// for Glue's EntityNotFoundException and catalog.ErrConflict for
// ConcurrentModificationException; throttling is retried by the SDK's
// retryer (aws.Config.Retryer, Options.MaxAttempts).
//
// Errors: a sentinel's text starts with its package name; wrapping adds context, never that name again.
package glue

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/lake/catalog"
	"github.com/tierflow/tierflow/lake/catalog/local"
)

// Glue's batch limits.
const (
	maxBatchCreate = 100 // BatchCreatePartition.PartitionInputList
	maxBatchUpdate = 100 // BatchUpdatePartition.Entries
	maxBatchDelete = 25  // BatchDeletePartition.PartitionsToDelete
)

// Options configure a Catalog.
type Options struct {
	// CatalogID is the AWS account id of the Data Catalog; empty means the
	// caller's own account.
	CatalogID string
	// MaxAttempts bounds the SDK's attempts per call (throttling and
	// transient errors are retried with backoff); 0 keeps aws.Config's
	// retryer setting (the SDK default is 3).
	MaxAttempts int
	// Log receives debug lines (which call created or replaced what); the
	// zero value logs nothing.
	Log zerolog.Logger
}

// Catalog is a catalog.Catalog on AWS Glue. It is safe for concurrent use.
type Catalog struct {
	client    *awsglue.Client
	catalogID *string
	log       zerolog.Logger
}

var _ catalog.Catalog = (*Catalog)(nil)

// New returns a catalog using cfg (region, credentials, endpoint, retryer).
func New(cfg aws.Config, opts Options) *Catalog {
	client := awsglue.NewFromConfig(cfg, func(o *awsglue.Options) {
		if opts.MaxAttempts > 0 {
			o.RetryMaxAttempts = opts.MaxAttempts
		}
	})
	c := &Catalog{client: client, log: opts.Log}
	if opts.CatalogID != "" {
		c.catalogID = aws.String(opts.CatalogID)
	}
	return c
}

// mapErr adds the catalog sentinel matching a Glue error.
func mapErr(err error) error {
	var (
		nf *types.EntityNotFoundException
		cm *types.ConcurrentModificationException
	)
	switch {
	case errors.As(err, &nf):
		return fmt.Errorf("%w: %w", catalog.ErrNotFound, err)
	case errors.As(err, &cm):
		return fmt.Errorf("%w: %w", catalog.ErrConflict, err)
	}
	return err
}

func isNotFound(err error) bool {
	var nf *types.EntityNotFoundException
	return errors.As(err, &nf)
}

func isAlreadyExists(err error) bool {
	var ae *types.AlreadyExistsException
	return errors.As(err, &ae)
}

// EnsureDatabase creates the database (name folded to lowercase) unless it
// exists. It reads first so that the steady state needs only
// glue:GetDatabase.
func (c *Catalog) EnsureDatabase(ctx context.Context, name string) error {
	name = strings.ToLower(name)
	if name == "" {
		return fmt.Errorf("glue: ensure database: empty name: %w", local.ErrInvalid)
	}
	_, err := c.client.GetDatabase(ctx, &awsglue.GetDatabaseInput{CatalogId: c.catalogID, Name: aws.String(name)})
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return fmt.Errorf("glue: get database %s: %w", name, err)
	}
	_, err = c.client.CreateDatabase(ctx, &awsglue.CreateDatabaseInput{
		CatalogId:     c.catalogID,
		DatabaseInput: &types.DatabaseInput{Name: aws.String(name)},
	})
	if err != nil && !isAlreadyExists(err) {
		return fmt.Errorf("glue: create database %s: %w", name, err)
	}
	c.log.Debug().Str("database", name).Msg("glue: database created")
	return nil
}

// GetTable returns a table with Version set to Glue's VersionId.
func (c *Catalog) GetTable(ctx context.Context, database, name string) (catalog.Table, error) {
	database, name = strings.ToLower(database), strings.ToLower(name)
	out, err := c.client.GetTable(ctx, &awsglue.GetTableInput{
		CatalogId: c.catalogID, DatabaseName: aws.String(database), Name: aws.String(name),
	})
	if err != nil {
		return catalog.Table{}, fmt.Errorf("glue: get table %s.%s: %w", database, name, mapErr(err))
	}
	if out.Table == nil {
		return catalog.Table{}, fmt.Errorf("glue: get table %s.%s: empty answer", database, name)
	}
	return fromTable(out.Table), nil
}

// PutTable creates the table (CreateTable) or, if it exists, replaces its
// definition (UpdateTable), keeping its partitions. With t.Version set the
// update is conditional (UpdateTable VersionId) and fails with
// catalog.ErrConflict when the table changed or vanished since it was read.
func (c *Catalog) PutTable(ctx context.Context, t catalog.Table) error {
	t, err := validTable(t)
	if err != nil {
		return fmt.Errorf("glue: put table: %w", err)
	}
	in := toTableInput(t)
	if t.Version != "" {
		_, err := c.client.UpdateTable(ctx, &awsglue.UpdateTableInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(t.Database), TableInput: in, VersionId: aws.String(t.Version),
		})
		if isNotFound(err) {
			return fmt.Errorf("glue: put table %s.%s at version %s: %w: %w", t.Database, t.Name, t.Version, catalog.ErrConflict, mapErr(err))
		}
		if err != nil {
			return fmt.Errorf("glue: put table %s.%s at version %s: %w", t.Database, t.Name, t.Version, mapErr(err))
		}
		c.log.Debug().Str("table", t.Database+"."+t.Name).Str("version", t.Version).Msg("glue: table updated")
		return nil
	}
	// Create, or update what exists; a table deleted between the two calls
	// sends us round again.
	for range 3 {
		_, err := c.client.CreateTable(ctx, &awsglue.CreateTableInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(t.Database), TableInput: in,
		})
		if err == nil {
			c.log.Debug().Str("table", t.Database+"."+t.Name).Msg("glue: table created")
			return nil
		}
		if !isAlreadyExists(err) {
			return fmt.Errorf("glue: create table %s.%s: %w", t.Database, t.Name, mapErr(err))
		}
		_, err = c.client.UpdateTable(ctx, &awsglue.UpdateTableInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(t.Database), TableInput: in,
		})
		if err == nil {
			c.log.Debug().Str("table", t.Database+"."+t.Name).Msg("glue: table replaced")
			return nil
		}
		if !isNotFound(err) {
			return fmt.Errorf("glue: update table %s.%s: %w", t.Database, t.Name, mapErr(err))
		}
	}
	return fmt.Errorf("glue: put table %s.%s: %w: created and deleted concurrently, three times", t.Database, t.Name, catalog.ErrConflict)
}

// DeleteTable removes a table; Glue removes its partitions. Missing is not
// an error.
func (c *Catalog) DeleteTable(ctx context.Context, database, name string) error {
	database, name = strings.ToLower(database), strings.ToLower(name)
	_, err := c.client.DeleteTable(ctx, &awsglue.DeleteTableInput{
		CatalogId: c.catalogID, DatabaseName: aws.String(database), Name: aws.String(name),
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("glue: delete table %s.%s: %w", database, name, mapErr(err))
	}
	return nil
}

// GetPartition returns one partition or an error wrapping
// catalog.ErrNotFound (also when the table does not exist).
func (c *Catalog) GetPartition(ctx context.Context, database, table string, values []string) (catalog.Partition, error) {
	database, table = strings.ToLower(database), strings.ToLower(table)
	out, err := c.client.GetPartition(ctx, &awsglue.GetPartitionInput{
		CatalogId: c.catalogID, DatabaseName: aws.String(database), TableName: aws.String(table),
		PartitionValues: nonNil(values),
	})
	if err != nil {
		return catalog.Partition{}, fmt.Errorf("glue: get partition %s.%s %q: %w", database, table, values, mapErr(err))
	}
	if out.Partition == nil {
		return catalog.Partition{}, fmt.Errorf("glue: get partition %s.%s %q: empty answer", database, table, values)
	}
	return fromPartition(out.Partition), nil
}

// PutPartition creates the partition (CreatePartition) or, if it exists,
// replaces it whole (UpdatePartition): one Glue call switches location,
// parameters and schema together. The partition is checked against its
// table first (one GetTable); see local.ValidatePartition.
func (c *Catalog) PutPartition(ctx context.Context, p catalog.Partition) error {
	t, err := c.GetTable(ctx, p.Database, p.Table)
	if err != nil {
		return fmt.Errorf("glue: put partition %q: %w", p.Values, err)
	}
	p, err = validPartition(t, p)
	if err != nil {
		return fmt.Errorf("glue: put partition: %w", err)
	}
	in := toPartitionInput(p)
	for range 3 {
		_, err := c.client.CreatePartition(ctx, &awsglue.CreatePartitionInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(p.Database), TableName: aws.String(p.Table), PartitionInput: in,
		})
		if err == nil {
			c.log.Debug().Str("table", p.Database+"."+p.Table).Strs("values", p.Values).Msg("glue: partition created")
			return nil
		}
		if !isAlreadyExists(err) {
			return fmt.Errorf("glue: create partition %s.%s %q: %w", p.Database, p.Table, p.Values, mapErr(err))
		}
		_, err = c.client.UpdatePartition(ctx, &awsglue.UpdatePartitionInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(p.Database), TableName: aws.String(p.Table),
			PartitionValueList: p.Values, PartitionInput: in,
		})
		if err == nil {
			c.log.Debug().Str("table", p.Database+"."+p.Table).Strs("values", p.Values).
				Str("location", p.StorageDescriptor.Location).Msg("glue: partition switched")
			return nil
		}
		if !isNotFound(err) {
			return fmt.Errorf("glue: update partition %s.%s %q: %w", p.Database, p.Table, p.Values, mapErr(err))
		}
	}
	return fmt.Errorf("glue: put partition %s.%s %q: %w: created and deleted concurrently, three times", p.Database, p.Table, p.Values, catalog.ErrConflict)
}

// ListPartitions returns the table's partitions (all GetPartitions pages)
// ordered by values element by element; Glue itself promises no order.
func (c *Catalog) ListPartitions(ctx context.Context, database, table string) ([]catalog.Partition, error) {
	database, table = strings.ToLower(database), strings.ToLower(table)
	pages := awsglue.NewGetPartitionsPaginator(c.client, &awsglue.GetPartitionsInput{
		CatalogId: c.catalogID, DatabaseName: aws.String(database), TableName: aws.String(table),
	})
	var out []catalog.Partition
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("glue: list partitions of %s.%s: %w", database, table, mapErr(err))
		}
		for i := range page.Partitions {
			out = append(out, fromPartition(&page.Partitions[i]))
		}
	}
	slices.SortFunc(out, func(a, b catalog.Partition) int { return slices.Compare(a.Values, b.Values) })
	return out, nil
}

// DeletePartition removes one partition; a missing partition, table or
// database is not an error.
func (c *Catalog) DeletePartition(ctx context.Context, database, table string, values []string) error {
	database, table = strings.ToLower(database), strings.ToLower(table)
	_, err := c.client.DeletePartition(ctx, &awsglue.DeletePartitionInput{
		CatalogId: c.catalogID, DatabaseName: aws.String(database), TableName: aws.String(table),
		PartitionValues: nonNil(values),
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("glue: delete partition %s.%s %q: %w", database, table, values, mapErr(err))
	}
	return nil
}

// PutPartitions creates or replaces many partitions with as few calls as
// Glue allows: BatchCreatePartition in chunks of 100, then
// BatchUpdatePartition (chunks of 100) for those that already existed.
// Every partition is checked against its table before anything is written;
// one GetTable per table. Each partition is switched atomically, the batch
// as a whole is not: on error some partitions may have been written, and
// the error lists the ones that failed.
func (c *Catalog) PutPartitions(ctx context.Context, ps []catalog.Partition) error {
	type group struct {
		db, table string
		parts     []catalog.Partition
	}
	var groups []*group
	byTable := map[[2]string]*group{}
	for _, p := range ps {
		k := [2]string{strings.ToLower(p.Database), strings.ToLower(p.Table)}
		g := byTable[k]
		if g == nil {
			g = &group{db: k[0], table: k[1]}
			byTable[k] = g
			groups = append(groups, g)
		}
		g.parts = append(g.parts, p)
	}
	for _, g := range groups {
		t, err := c.GetTable(ctx, g.db, g.table)
		if err != nil {
			return fmt.Errorf("glue: put partitions: %w", err)
		}
		seen := map[string]bool{}
		for i, p := range g.parts {
			if g.parts[i], err = validPartition(t, p); err != nil {
				return fmt.Errorf("glue: put partitions: %w", err)
			}
			k := strings.Join(p.Values, "\x00")
			if seen[k] {
				return fmt.Errorf("glue: put partitions: %s.%s %q given twice: %w", g.db, g.table, p.Values, local.ErrInvalid)
			}
			seen[k] = true
		}
	}
	var errs []error
	for _, g := range groups {
		if err := c.putGroup(ctx, g.db, g.table, g.parts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// putGroup writes validated partitions of one table.
func (c *Catalog) putGroup(ctx context.Context, db, table string, parts []catalog.Partition) error {
	inputs := map[string]types.PartitionInput{}
	var existing [][]string
	var errs []error
	for chunk := range slices.Chunk(parts, maxBatchCreate) {
		list := make([]types.PartitionInput, len(chunk))
		for i, p := range chunk {
			list[i] = *toPartitionInput(p)
			inputs[strings.Join(p.Values, "\x00")] = list[i]
		}
		out, err := c.client.BatchCreatePartition(ctx, &awsglue.BatchCreatePartitionInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(db), TableName: aws.String(table), PartitionInputList: list,
		})
		if err != nil {
			return fmt.Errorf("glue: batch create partitions of %s.%s: %w", db, table, mapErr(err))
		}
		for _, e := range out.Errors {
			if code := errorCode(e.ErrorDetail); code == "AlreadyExistsException" {
				existing = append(existing, e.PartitionValues)
				continue
			}
			errs = append(errs, fmt.Errorf("glue: create partition %s.%s %q: %s", db, table, e.PartitionValues, describe(e.ErrorDetail)))
		}
	}
	for chunk := range slices.Chunk(existing, maxBatchUpdate) {
		entries := make([]types.BatchUpdatePartitionRequestEntry, len(chunk))
		for i, vals := range chunk {
			in := inputs[strings.Join(vals, "\x00")]
			entries[i] = types.BatchUpdatePartitionRequestEntry{PartitionValueList: vals, PartitionInput: &in}
		}
		out, err := c.client.BatchUpdatePartition(ctx, &awsglue.BatchUpdatePartitionInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(db), TableName: aws.String(table), Entries: entries,
		})
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("glue: batch update partitions of %s.%s: %w", db, table, mapErr(err)))...)
		}
		for _, e := range out.Errors {
			errs = append(errs, fmt.Errorf("glue: update partition %s.%s %q: %s", db, table, e.PartitionValueList, describe(e.ErrorDetail)))
		}
	}
	c.log.Debug().Str("table", db+"."+table).Int("partitions", len(parts)).Int("replaced", len(existing)).
		Int("failed", len(errs)).Msg("glue: partitions put")
	return errors.Join(errs...)
}

// DeletePartitions removes partitions with BatchDeletePartition in chunks
// of 25; missing partitions are not an error, nor is a missing table.
func (c *Catalog) DeletePartitions(ctx context.Context, database, table string, values [][]string) error {
	database, table = strings.ToLower(database), strings.ToLower(table)
	var errs []error
	for chunk := range slices.Chunk(values, maxBatchDelete) {
		list := make([]types.PartitionValueList, len(chunk))
		for i, v := range chunk {
			list[i] = types.PartitionValueList{Values: nonNil(v)}
		}
		out, err := c.client.BatchDeletePartition(ctx, &awsglue.BatchDeletePartitionInput{
			CatalogId: c.catalogID, DatabaseName: aws.String(database), TableName: aws.String(table), PartitionsToDelete: list,
		})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("glue: batch delete partitions of %s.%s: %w", database, table, mapErr(err))
		}
		for _, e := range out.Errors {
			if errorCode(e.ErrorDetail) != "EntityNotFoundException" {
				errs = append(errs, fmt.Errorf("glue: delete partition %s.%s %q: %s", database, table, e.PartitionValues, describe(e.ErrorDetail)))
			}
		}
	}
	return errors.Join(errs...)
}

func errorCode(d *types.ErrorDetail) string {
	if d == nil {
		return ""
	}
	return aws.ToString(d.ErrorCode)
}

func describe(d *types.ErrorDetail) string {
	if d == nil {
		return "unknown error"
	}
	return aws.ToString(d.ErrorCode) + ": " + aws.ToString(d.ErrorMessage)
}

// validTable normalises t (lowercase names, Parquet classes and
// EXTERNAL_TABLE by default) and applies the local catalog's rules plus
// the Spark parameters Athena trips over.
func validTable(t catalog.Table) (catalog.Table, error) {
	if t.TableType == "" {
		t.TableType = "EXTERNAL_TABLE"
	}
	t.PartitionKeys = lowerColumns(t.PartitionKeys)
	t.StorageDescriptor = lowerSD(t.StorageDescriptor)
	sd := &t.StorageDescriptor
	if sd.InputFormat == "" {
		sd.InputFormat = catalog.ParquetInputFormat
	}
	if sd.OutputFormat == "" {
		sd.OutputFormat = catalog.ParquetOutputFormat
	}
	if sd.SerdeLibrary == "" {
		sd.SerdeLibrary = catalog.ParquetSerDe
	}
	t, err := local.ValidateTable(t)
	if err != nil {
		return t, err
	}
	if _, ok := t.Parameters["spark.sql.sources.provider"]; ok {
		return t, fmt.Errorf("table %s.%s: %w: parameter spark.sql.sources.provider makes Athena ignore Hive bucketing", t.Database, t.Name, local.ErrInvalid)
	}
	if t.Parameters["bucketing_format"] == "spark" {
		return t, fmt.Errorf("table %s.%s: %w: bucketing_format=spark, but tierflow writes Hive bucketing", t.Database, t.Name, local.ErrInvalid)
	}
	return t, nil
}

// validPartition normalises p like validTable, fills what it leaves empty
// from the table (columns, formats, SerDe: Athena reads a partition by its
// own storage descriptor) and checks it against t.
func validPartition(t catalog.Table, p catalog.Partition) (catalog.Partition, error) {
	p.StorageDescriptor = lowerSD(p.StorageDescriptor)
	sd, tsd := &p.StorageDescriptor, t.StorageDescriptor
	if len(sd.Columns) == 0 {
		sd.Columns = slices.Clone(tsd.Columns)
	}
	if sd.InputFormat == "" {
		sd.InputFormat = tsd.InputFormat
	}
	if sd.OutputFormat == "" {
		sd.OutputFormat = tsd.OutputFormat
	}
	if sd.SerdeLibrary == "" {
		sd.SerdeLibrary, sd.SerdeParameters = tsd.SerdeLibrary, maps.Clone(tsd.SerdeParameters)
	}
	return local.ValidatePartition(t, p)
}

func lowerColumns(cs []catalog.Column) []catalog.Column {
	out := make([]catalog.Column, len(cs))
	for i, c := range cs {
		c.Name = strings.ToLower(c.Name)
		out[i] = c
	}
	return out
}

func lowerSD(sd catalog.StorageDescriptor) catalog.StorageDescriptor {
	sd.Columns = lowerColumns(sd.Columns)
	sd.BucketColumns = slices.Clone(sd.BucketColumns)
	for i := range sd.BucketColumns {
		sd.BucketColumns[i] = strings.ToLower(sd.BucketColumns[i])
	}
	sd.SortColumns = slices.Clone(sd.SortColumns)
	for i := range sd.SortColumns {
		sd.SortColumns[i].Column = strings.ToLower(sd.SortColumns[i].Column)
	}
	return sd
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func toColumns(cs []catalog.Column) []types.Column {
	out := make([]types.Column, len(cs))
	for i, c := range cs {
		out[i] = types.Column{Name: aws.String(c.Name), Type: aws.String(c.Type), Comment: optional(c.Comment), Parameters: c.Parameters}
	}
	return out
}

func fromColumns(cs []types.Column) []catalog.Column {
	out := make([]catalog.Column, len(cs))
	for i, c := range cs {
		out[i] = catalog.Column{Name: aws.ToString(c.Name), Type: aws.ToString(c.Type), Comment: aws.ToString(c.Comment), Parameters: c.Parameters}
	}
	return out
}

// toSD renders a storage descriptor as awswrangler's known-good Parquet
// definition does: NumberOfBuckets -1 when not bucketed, empty (not
// absent) BucketColumns and SortColumns.
func toSD(sd catalog.StorageDescriptor) *types.StorageDescriptor {
	n := int32(sd.NumberOfBuckets)
	if n <= 0 {
		n = -1
	}
	sorts := make([]types.Order, len(sd.SortColumns))
	for i, s := range sd.SortColumns {
		sorts[i] = types.Order{Column: aws.String(s.Column), SortOrder: int32(s.SortOrder)}
	}
	return &types.StorageDescriptor{
		Columns:      toColumns(sd.Columns),
		Location:     aws.String(sd.Location),
		InputFormat:  aws.String(sd.InputFormat),
		OutputFormat: aws.String(sd.OutputFormat),
		SerdeInfo: &types.SerDeInfo{
			SerializationLibrary: aws.String(sd.SerdeLibrary),
			Parameters:           sd.SerdeParameters,
		},
		Compressed:      sd.Compressed,
		NumberOfBuckets: n,
		BucketColumns:   nonNil(sd.BucketColumns),
		SortColumns:     sorts,
	}
}

func fromSD(sd *types.StorageDescriptor) catalog.StorageDescriptor {
	if sd == nil {
		return catalog.StorageDescriptor{}
	}
	out := catalog.StorageDescriptor{
		Columns:         fromColumns(sd.Columns),
		Location:        aws.ToString(sd.Location),
		InputFormat:     aws.ToString(sd.InputFormat),
		OutputFormat:    aws.ToString(sd.OutputFormat),
		Compressed:      sd.Compressed,
		NumberOfBuckets: int(sd.NumberOfBuckets),
		BucketColumns:   sd.BucketColumns,
	}
	if sd.SerdeInfo != nil {
		out.SerdeLibrary = aws.ToString(sd.SerdeInfo.SerializationLibrary)
		out.SerdeParameters = sd.SerdeInfo.Parameters
	}
	for _, o := range sd.SortColumns {
		out.SortColumns = append(out.SortColumns, catalog.SortColumn{Column: aws.ToString(o.Column), SortOrder: int(o.SortOrder)})
	}
	return out
}

func toTableInput(t catalog.Table) *types.TableInput {
	return &types.TableInput{
		Name:              aws.String(t.Name),
		TableType:         aws.String(t.TableType),
		Parameters:        t.Parameters,
		PartitionKeys:     nonNil(toColumns(t.PartitionKeys)),
		StorageDescriptor: toSD(t.StorageDescriptor),
	}
}

func fromTable(t *types.Table) catalog.Table {
	return catalog.Table{
		Database:          aws.ToString(t.DatabaseName),
		Name:              aws.ToString(t.Name),
		TableType:         aws.ToString(t.TableType),
		Parameters:        t.Parameters,
		PartitionKeys:     fromColumns(t.PartitionKeys),
		StorageDescriptor: fromSD(t.StorageDescriptor),
		Version:           aws.ToString(t.VersionId),
	}
}

func toPartitionInput(p catalog.Partition) *types.PartitionInput {
	return &types.PartitionInput{
		Values:            nonNil(p.Values),
		Parameters:        p.Parameters,
		StorageDescriptor: toSD(p.StorageDescriptor),
	}
}

func fromPartition(p *types.Partition) catalog.Partition {
	return catalog.Partition{
		Database:          aws.ToString(p.DatabaseName),
		Table:             aws.ToString(p.TableName),
		Values:            p.Values,
		Parameters:        p.Parameters,
		StorageDescriptor: fromSD(p.StorageDescriptor),
	}
}
