package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsathena "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"

	"github.com/tierflow/tierflow/lake/awsconfig"
)

// SDKAthena is an AthenaClient over aws-sdk-go-v2: StartQueryExecution,
// GetQueryExecution polled with backoff, GetQueryResults for SELECT rows.
type SDKAthena struct {
	Client         *awsathena.Client
	Database       string
	Workgroup      string // "" = primary
	OutputLocation string // s3:// result location; "" = the workgroup's
	PollMin        time.Duration
	PollMax        time.Duration
}

// Run implements AthenaClient.
func (a *SDKAthena) Run(ctx context.Context, sql string) (AthenaRun, error) {
	in := &awsathena.StartQueryExecutionInput{
		QueryString:           aws.String(sql),
		QueryExecutionContext: &types.QueryExecutionContext{Database: aws.String(a.Database)},
	}
	if a.Workgroup != "" {
		in.WorkGroup = aws.String(a.Workgroup)
	}
	if a.OutputLocation != "" {
		in.ResultConfiguration = &types.ResultConfiguration{OutputLocation: aws.String(a.OutputLocation)}
	}
	out, err := a.Client.StartQueryExecution(ctx, in)
	if err != nil {
		return AthenaRun{}, fmt.Errorf("StartQueryExecution: %w", err)
	}
	id := aws.ToString(out.QueryExecutionId)
	r := AthenaRun{QueryID: id}
	delay, maxDelay := a.PollMin, a.PollMax
	if delay <= 0 {
		delay = 250 * time.Millisecond
	}
	if maxDelay <= 0 {
		maxDelay = 5 * time.Second
	}
	for {
		g, err := a.Client.GetQueryExecution(ctx, &awsathena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			return r, fmt.Errorf("GetQueryExecution %s: %w", id, err)
		}
		qe := g.QueryExecution
		if qe == nil || qe.Status == nil {
			return r, fmt.Errorf("GetQueryExecution %s: no status", id)
		}
		if st := qe.Statistics; st != nil {
			r.DataScannedBytes = aws.ToInt64(st.DataScannedInBytes)
			r.EngineMillis = aws.ToInt64(st.EngineExecutionTimeInMillis)
			r.TotalMillis = aws.ToInt64(st.TotalExecutionTimeInMillis)
		}
		switch qe.Status.State {
		case types.QueryExecutionStateSucceeded:
			if qe.StatementType == types.StatementTypeDml && qe.Query != nil && isSelect(*qe.Query) {
				rows, err := a.rows(ctx, id)
				if err != nil {
					return r, err
				}
				r.Rows = rows
			}
			return r, nil
		case types.QueryExecutionStateFailed, types.QueryExecutionStateCancelled:
			return r, fmt.Errorf("query %s %s: %s", id, qe.Status.State, aws.ToString(qe.Status.StateChangeReason))
		}
		select {
		case <-ctx.Done():
			_, _ = a.Client.StopQueryExecution(context.WithoutCancel(ctx), &awsathena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)})
			return r, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, maxDelay)
	}
}

func isSelect(sql string) bool {
	for i := 0; i < len(sql); i++ {
		switch sql[i] {
		case ' ', '\t', '\n', '\r', '(':
			continue
		}
		return len(sql)-i >= 6 && (sql[i:i+6] == "SELECT" || sql[i:i+6] == "select")
	}
	return false
}

// rows reads every data row of a SELECT (the first row of the first page
// is the header).
func (a *SDKAthena) rows(ctx context.Context, id string) ([][]string, error) {
	var out [][]string
	var token *string
	first := true
	for {
		res, err := a.Client.GetQueryResults(ctx, &awsathena.GetQueryResultsInput{QueryExecutionId: aws.String(id), NextToken: token})
		if err != nil {
			return nil, fmt.Errorf("GetQueryResults %s: %w", id, err)
		}
		if res.ResultSet == nil {
			return nil, fmt.Errorf("GetQueryResults %s: no result set", id)
		}
		for i, row := range res.ResultSet.Rows {
			if first && i == 0 {
				continue
			}
			vals := make([]string, len(row.Data))
			for j, d := range row.Data {
				vals[j] = aws.ToString(d.VarCharValue)
			}
			out = append(out, vals)
		}
		first = false
		if res.NextToken == nil {
			return out, nil
		}
		token = res.NextToken
	}
}

// athenaSetup completes opts.AthenaSetup from the job's aws settings.
func (b *bencher) athenaSetup(ctx context.Context) (AthenaSetup, error) {
	if b.opts.AthenaSetup == nil {
		return AthenaSetup{}, errors.New("--athena needs the comparison's setup: the raw gz CSV table over the month (the case study's consumer_raw), tierflow's published table and an empty s3:// location for the CTAS outputs")
	}
	s := *b.opts.AthenaSetup
	if s.Database == "" {
		s.Database = b.spec.Database
	}
	if s.Tier2Table == "" {
		s.Tier2Table = b.spec.Output.Table
	}
	if len(s.Columns) == 0 {
		for _, c := range b.spec.Schema.Columns {
			s.Columns = append(s.Columns, c.Name)
		}
	}
	if s.Client == nil {
		cfg, err := awsconfig.Load(ctx, awsconfig.Options{Region: b.spec.AWS.Region})
		if err != nil {
			return s, err
		}
		if cfg.Credentials == nil {
			return s, errors.New("no AWS credentials for the Athena comparison")
		}
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return s, fmt.Errorf("no AWS credentials for the Athena comparison: %w", err)
		}
		s.Client = &SDKAthena{Client: awsathena.NewFromConfig(cfg), Database: s.Database, Workgroup: b.spec.AWS.Workgroup, OutputLocation: b.spec.AWS.AthenaOutput}
	}
	return s, nil
}
