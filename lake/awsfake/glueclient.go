package awsfake

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// checkCTASTarget reports what Athena reports before running a CTAS whose
// target cannot be created: a missing database, an existing table.
func (a *Athena) checkCTASTarget(ctx context.Context, db, table string) error {
	var nf *types.EntityNotFoundException
	if _, err := a.glue.GetDatabase(ctx, &awsglue.GetDatabaseInput{Name: &db}); errors.As(err, &nf) {
		return fmt.Errorf("Schema '%s' does not exist", db)
	} else if err != nil {
		return err
	}
	_, err := a.glue.GetTable(ctx, &awsglue.GetTableInput{DatabaseName: &db, Name: &table})
	switch {
	case err == nil:
		return fmt.Errorf("Table 'awsdatacatalog.%s.%s' already exists", db, table)
	case errors.As(err, &nf):
		return nil
	}
	return err
}

// registerTable stores the table a CTAS created and its partitions, as
// Athena does when the query succeeds. Athena does it inside the service;
// here it takes requests, and when one's answer is lost the SDK sends it
// again: a table (or partition) found already there as this query defines
// it is the earlier attempt's.
func (a *Athena) registerTable(ctx context.Context, db string, t *types.TableInput, parts []types.PartitionInput) error {
	_, err := a.glue.CreateTable(ctx, &awsglue.CreateTableInput{DatabaseName: &db, TableInput: t})
	var exists *types.AlreadyExistsException
	if errors.As(err, &exists) {
		got, gerr := a.glue.GetTable(ctx, &awsglue.GetTableInput{DatabaseName: &db, Name: t.Name})
		if gerr == nil && sameStorage(got.Table.StorageDescriptor, t.StorageDescriptor) {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	for len(parts) > 0 {
		n := min(len(parts), 100) // BatchCreatePartition's limit
		out, err := a.glue.BatchCreatePartition(ctx, &awsglue.BatchCreatePartitionInput{
			DatabaseName: &db, TableName: t.Name, PartitionInputList: parts[:n],
		})
		if err != nil {
			return err
		}
		for _, e := range out.Errors {
			if aws.ToString(e.ErrorDetail.ErrorCode) != "AlreadyExistsException" { // the table is this query's: so are its partitions
				return fmt.Errorf("registering partition %q: %s", e.PartitionValues, aws.ToString(e.ErrorDetail.ErrorMessage))
			}
		}
		parts = parts[n:]
	}
	return nil
}

// sameStorage reports whether a stored table's storage is what a CTAS
// defines: its location and columns.
func sameStorage(got, want *types.StorageDescriptor) bool {
	if got == nil || want == nil || aws.ToString(got.Location) != aws.ToString(want.Location) || len(got.Columns) != len(want.Columns) {
		return false
	}
	for i, c := range got.Columns {
		if aws.ToString(c.Name) != aws.ToString(want.Columns[i].Name) || aws.ToString(c.Type) != aws.ToString(want.Columns[i].Type) {
			return false
		}
	}
	return true
}

// TableNames lists a database's tables in the Glue Data Catalog Athena
// resolves names in, as an executor needs to find the tables a SELECT
// reads; a database that does not exist has none.
func (a *Athena) TableNames(ctx context.Context, db string) ([]string, error) {
	var out []string
	pages := awsglue.NewGetTablesPaginator(a.glue, &awsglue.GetTablesInput{DatabaseName: &db})
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		var nf *types.EntityNotFoundException
		if errors.As(err, &nf) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing the tables of %s: %w", db, err)
		}
		for _, t := range p.TableList {
			out = append(out, aws.ToString(t.Name))
		}
	}
	return out, nil
}
