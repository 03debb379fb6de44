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
// implementation besides dynalite. Two subtests are left out: moto 5.2.1
// serves requests on threads and does not make a conditional write atomic
// with its condition, so of concurrent claims, two sometimes both succeed
// (seen about one run in three), and of concurrent commits of one claim
// likewise (seen now and then under load). DynamoDB's conditional writes are atomic;
// dynalite's are too, and the subtest runs there. A race cannot be pinned
// by a test that fails on the day moto is fixed.
func TestConformanceMoto(t *testing.T) {
	cfg := mototest.Config(t)
	lineagetest.Run(t, mototest.Except(t, func(t *testing.T) lineage.Store {
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
	}, map[string]string{
		"Claims/ConcurrentClaimExactlyOne": "moto 5.2.1's conditional writes are not atomic under concurrent requests",
		"Published/ConcurrentExactlyOne":   "moto 5.2.1's conditional writes are not atomic under concurrent requests",
	}))
}
