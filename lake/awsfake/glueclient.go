package awsfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsglue "github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// glueClient registers CTAS tables in a real Glue Data Catalog (Athena.UseGlue).
type glueClient struct{ c *awsglue.Client }

func (g glueClient) checkCTASTarget(ctx context.Context, db, table string) error {
	var nf *types.EntityNotFoundException
	if _, err := g.c.GetDatabase(ctx, &awsglue.GetDatabaseInput{Name: &db}); errors.As(err, &nf) {
		return fmt.Errorf("Schema '%s' does not exist", db)
	} else if err != nil {
		return err
	}
	_, err := g.c.GetTable(ctx, &awsglue.GetTableInput{DatabaseName: &db, Name: &table})
	switch {
	case err == nil:
		return fmt.Errorf("Table 'awsdatacatalog.%s.%s' already exists", db, table)
	case errors.As(err, &nf):
		return nil
	}
	return err
}

func (g glueClient) registerCTAS(ctx context.Context, t glueTable, parts []gluePartitionInput) error {
	var in types.TableInput
	// The wire shapes' members are named as the SDK's fields are.
	if err := convert(glueTableInput{Name: &t.Name, StorageDescriptor: t.StorageDescriptor, PartitionKeys: &t.PartitionKeys,
		TableType: t.TableType, Parameters: t.Parameters}, &in); err != nil {
		return err
	}
	if _, err := g.c.CreateTable(ctx, &awsglue.CreateTableInput{DatabaseName: &t.DatabaseName, TableInput: &in}); err != nil {
		return err
	}
	for len(parts) > 0 {
		n := min(len(parts), 100) // BatchCreatePartition's limit
		var list []types.PartitionInput
		if err := convert(parts[:n], &list); err != nil {
			return err
		}
		out, err := g.c.BatchCreatePartition(ctx, &awsglue.BatchCreatePartitionInput{
			DatabaseName: &t.DatabaseName, TableName: &t.Name, PartitionInputList: list,
		})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("registering partition %q: %s", e.PartitionValues, aws.ToString(e.ErrorDetail.ErrorMessage))
		}
		parts = parts[n:]
	}
	return nil
}

// convert copies a wire shape into the SDK type of the same shape.
func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}
