package dynamo_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/lake/lineage/dynamo"
	"github.com/tierflow/tierflow/lake/lineage/lineagetest"
	"github.com/tierflow/tierflow/lake/mototest"
)

// TestConformanceMoto runs the suite against moto's DynamoDB, a second
// implementation besides dynalite.
func TestConformanceMoto(t *testing.T) {
	cfg := mototest.Config(t)
	lineagetest.Run(t, func(t *testing.T) lineage.Store {
		table := mototest.Name("tierflow-test")
		s := dynamo.New(cfg, table)
		if err := s.CreateTable(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			s.Close()
			client := dynamodb.NewFromConfig(cfg)
			if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
				t.Errorf("delete table %s: %v", table, err)
			}
		})
		return s
	})
}
