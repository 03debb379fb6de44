package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/awsconfig"
	"github.com/tierflow/tierflow/lake/catalog/glue"
	"github.com/tierflow/tierflow/lake/engine"
	"github.com/tierflow/tierflow/lake/engine/athena"
	"github.com/tierflow/tierflow/lake/lineage/dynamo"
	"github.com/tierflow/tierflow/lake/storage/s3"
	"github.com/tierflow/tierflow/lake/storage/spool"
)

// openAWS opens the AWS backends for an s3:// lake: S3 storage, the Glue
// catalog, Athena for derived tables and DynamoDB for lineage. Region,
// credentials and endpoints come from the standard chain
// (AWS_ENDPOINT_URL_<SERVICE> included); the job's aws section names the
// key, owner, workgroup and table.
func openAWS(ctx context.Context, spec *jobs.Spec, lakeURI string, log zerolog.Logger) (*Env, error) {
	cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: spec.AWS.Region, Logger: awsconfig.ZerologLogger(log)})
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	st, err := s3.New(ctx, cfg, lakeURI, s3.Options{
		KMSKeyID:            spec.AWS.KMSKeyID,
		KMSBucketKey:        spec.AWS.KMSKeyID != "",
		ExpectedBucketOwner: spec.AWS.ExpectedBucketOwner,
		UsePathStyle:        awsconfig.PathStyle(os.Getenv),
		Log:                 log,
	})
	if err != nil {
		return nil, fmt.Errorf("open lake %s: %w", lakeURI, err)
	}
	spoolDir := spec.Convert.SpillDir
	if spoolDir == "" {
		spoolDir = filepath.Join(os.TempDir(), "tierflow-spool")
	}
	staged, err := spool.New(st, spoolDir)
	if err != nil {
		return nil, err
	}
	cat := glue.New(cfg, glue.Options{Log: log})
	lin := dynamo.New(cfg, spec.AWS.LineageTable)
	env := &Env{Storage: st, Output: staged, Catalog: cat, Lineage: lin, Log: log, CodeVersion: CodeVersion()}
	env.OpenLineage = newOpenLineage(ctx, spec, st, log, os.Getenv)
	env.ExecutionAlive = executionLiveness(sfn.NewFromConfig(cfg), log)
	env.newEngine = func(ctx context.Context) (engine.Engine, error) {
		return athena.New(cfg, cat, athena.Options{
			Workgroup:      spec.AWS.Workgroup,
			OutputLocation: spec.AWS.AthenaOutput,
			KMSKey:         spec.AWS.KMSKeyID,
			Storage:        st,
			Log:            log,
		}), nil
	}
	return env, nil
}

// executionLiveness tells a month's holder on AWS by its Step Functions
// execution: RUNNING is alive, any other status dead; an error leaves it
// to the lease.
func executionLiveness(states *sfn.Client, log zerolog.Logger) func(context.Context, string) Liveness {
	return func(ctx context.Context, arn string) Liveness {
		out, err := states.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: &arn})
		if err != nil {
			log.Warn().Err(err).Str("execution", arn).Msg("cannot tell whether the month's holder still runs; its lease decides")
			return HolderUnknown
		}
		if out.Status == sfntypes.ExecutionStatusRunning {
			return HolderAlive
		}
		return HolderDead
	}
}
