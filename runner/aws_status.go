package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/lake/lineage"
	"github.com/tierflow/tierflow/runner/deploy"
)

// StatusOptions are status's and runs --on aws's.
type StatusOptions struct {
	Job string
	// Run is an execution name or ARN, or a lineage run id (status only).
	Run string
	// Lake is the lake whose lineage holds the runs (default: the job's).
	Lake string
	// Limit bounds the executions runs lists (default 20).
	Limit int
	// Name, Region, Account: as AWSRunOptions.
	Name, Region, Account string

	Log zerolog.Logger
	AWS *aws.Config // tests
	// Lineage replaces the lake's lineage store (tests). When nil it is
	// opened from the lake; if that fails, status still shows the
	// execution and says why the run record is missing.
	Lineage lineage.Store
}

// awsStatus holds what status and runs share.
type awsStatus struct {
	api   *deploy.Clients
	spec  *jobs.Spec
	o     StatusOptions
	smArn string
	lin   lineage.Store
	// linErr says why there is no lineage store.
	linErr error
	close  func()
}

func openAWSStatus(ctx context.Context, o StatusOptions) (*awsStatus, error) {
	spec, err := jobs.Open(o.Job)
	if err != nil {
		return nil, err
	}
	api, err := deploy.NewClients(ctx, o.AWS, spec, o.Region, o.Log)
	if err != nil {
		return nil, err
	}
	smArn, err := api.StateMachineARN(ctx, spec, o.Name, o.Account)
	if err != nil {
		return nil, err
	}
	s := &awsStatus{api: api, spec: spec, o: o, lin: o.Lineage, close: func() {}, smArn: smArn}
	if s.lin == nil {
		uri, err := LakeURI(spec, o.Lake)
		if err == nil {
			var env *Env
			if env, err = OpenEnv(ctx, spec, uri, o.Log); err == nil {
				s.lin, s.close = env.Lineage, func() { _ = env.Close() }
			}
		}
		s.linErr = err
	}
	return s, nil
}

// lineageRun finds the lineage run an execution started (plan records the
// execution's name as the run's parent).
func (s *awsStatus) lineageRuns(ctx context.Context) (map[string]lineage.Run, error) {
	if s.lin == nil {
		return nil, s.linErr
	}
	runs, err := s.lin.ListRuns(ctx, s.spec.Name, "")
	if err != nil {
		return nil, fmt.Errorf("runs of %s: %w", s.spec.Name, err)
	}
	out := map[string]lineage.Run{}
	for _, r := range runs {
		if r.Parent == "" {
			continue
		}
		name := r.Parent[strings.LastIndex(r.Parent, ":")+1:]
		if _, seen := out[name]; !seen { // newest first: keep the latest
			out[name] = r
		}
	}
	return out, nil
}

// RunStatus is what status shows of one run.
type RunStatus struct {
	// Execution is the run's Step Functions execution; nil on a local lake
	// and for a run that had none.
	Execution *ExecutionStatus
	// Run is the lineage record; nil when none is recorded (yet).
	Run *lineage.Run
	// Published says Run is its month's published run.
	Published bool
	// LineageErr says why the lineage record could not be read (AWS).
	LineageErr error
}

// ExecutionStatus is a Step Functions execution of the job, as far as it
// got.
type ExecutionStatus struct {
	Name, ARN string
	Status    string
	Month     string // "" for a scheduled start (plan chose the month)
	Progress  Progress
	// Started and Stopped are nil until the execution starts or stops.
	Started, Stopped *time.Time
	Redrives         int
	Error, Cause     string
}

// View is the run's record as status --output json prints it.
func (s *RunStatus) View() RunView { return runView(*s.Run, s.Published) }

// Status finds one run. With an s3:// lake that is a Step Functions
// execution (status, stage, parts and tables done, error) and its lineage
// record; with a local lake, the lineage record alone.
func Status(ctx context.Context, o StatusOptions) (*RunStatus, error) {
	if o.Run == "" {
		return nil, errors.New("status: name the RUN (an execution name or ARN, or a run id)")
	}
	spec, err := jobs.Open(o.Job)
	if err != nil {
		return nil, err
	}
	uri, err := LakeURI(spec, o.Lake)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(uri, "s3://") {
		return localStatus(ctx, spec, uri, o)
	}
	s, err := openAWSStatus(ctx, o)
	if err != nil {
		return nil, err
	}
	defer s.close()
	arn := o.Run
	st := &RunStatus{}
	if !strings.HasPrefix(arn, "arn:") {
		arn = strings.Replace(s.smArn, ":stateMachine:", ":execution:", 1) + ":" + o.Run
	}
	d, err := s.api.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	var missing *sfntypes.ExecutionDoesNotExist
	if errors.As(err, &missing) && s.lin != nil && !strings.HasPrefix(o.Run, "arn:") {
		// Not an execution: a lineage run id, whose parent is one.
		r, lerr := s.lin.GetRun(ctx, s.spec.Name, o.Run)
		if lerr != nil {
			return nil, fmt.Errorf("status: %s is neither an execution of %s nor a run of job %s (%v)", o.Run, s.smArn, s.spec.Name, lerr)
		}
		st.Run = &r
		if r.Parent == "" {
			return st, nil // a local run: no Step Functions execution
		}
		arn = r.Parent
		if !strings.HasPrefix(arn, "arn:") {
			arn = strings.Replace(s.smArn, ":stateMachine:", ":execution:", 1) + ":" + r.Parent
		}
		d, err = s.api.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	}
	if err != nil {
		return nil, fmt.Errorf("status: execution %s: %w", arn, err)
	}
	p, err := progress(ctx, s.api.SFN, arn, d.Status)
	if err != nil {
		return nil, err
	}
	name := aws.ToString(d.Name)
	st.Execution = &ExecutionStatus{Name: name, ARN: arn, Status: string(d.Status), Month: executionMonth(name), Progress: p,
		Started: d.StartDate, Stopped: d.StopDate, Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause)}
	if d.RedriveCount != nil {
		st.Execution.Redrives = int(*d.RedriveCount)
	}
	if st.Run == nil {
		runs, err := s.lineageRuns(ctx)
		if err != nil {
			st.LineageErr = err
			return st, nil
		}
		if r, ok := runs[name]; ok {
			st.Run = &r
		}
	}
	if st.Run != nil && s.lin != nil {
		pub, _ := s.lin.Published(ctx, s.spec.Name, st.Run.Month)
		st.Published = pub == st.Run.ID
	}
	return st, nil
}

// localStatus finds a run of a local lake: its lineage record.
func localStatus(ctx context.Context, spec *jobs.Spec, uri string, o StatusOptions) (*RunStatus, error) {
	lin := o.Lineage
	var env *Env
	if lin == nil {
		var err error
		if env, err = OpenExistingEnv(ctx, spec, uri, o.Log); err != nil {
			return nil, err
		}
		defer env.Close()
		lin = env.Lineage
	}
	r, err := lin.GetRun(ctx, spec.Name, o.Run)
	if err != nil {
		return nil, fmt.Errorf("status: run %s of job %s: %w", o.Run, spec.Name, err)
	}
	if env != nil {
		// A commit of this month that was not rolled forward is finished
		// first, so the status shown is the one readers get.
		if rep, err := Repair(ctx, env, spec, r.Month); err != nil {
			return nil, err
		} else if rep.Finished && rep.Run == r.ID {
			if r, err = lin.GetRun(ctx, spec.Name, o.Run); err != nil {
				return nil, fmt.Errorf("status: run %s of job %s: %w", o.Run, spec.Name, err)
			}
		}
	}
	pub, _ := lin.Published(ctx, spec.Name, r.Month)
	return &RunStatus{Run: &r, Published: pub == r.ID}, nil
}

// AWSRuns are the job's latest Step Functions executions.
type AWSRuns struct {
	StateMachine string // its ARN
	Executions   []ExecutionRun
	// LineageErr says why the executions' runs could not be read.
	LineageErr error
}

// ExecutionRun is an execution and the lineage run it started.
type ExecutionRun struct {
	Name, Status string
	Month        string // "" when neither the name nor a run tells it
	// Started and Stopped are nil until the execution starts or stops.
	Started, Stopped *time.Time
	Run              *lineage.Run // nil when none is recorded (yet)
}

// ListAWSRuns lists the job's Step Functions executions, newest first (at
// most o.Limit, default 20), with the lineage run each started.
func ListAWSRuns(ctx context.Context, o StatusOptions) (*AWSRuns, error) {
	s, err := openAWSStatus(ctx, o)
	if err != nil {
		return nil, err
	}
	defer s.close()
	limit := o.Limit
	if limit <= 0 {
		limit = 20
	}
	var execs []sfntypes.ExecutionListItem
	p := sfn.NewListExecutionsPaginator(s.api.SFN, &sfn.ListExecutionsInput{StateMachineArn: aws.String(s.smArn), MaxResults: int32(min(limit, 1000))})
	for p.HasMorePages() && len(execs) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("runs: executions of %s: %w", s.smArn, err)
		}
		execs = append(execs, page.Executions...)
	}
	execs = execs[:min(len(execs), limit)]
	runs, linErr := s.lineageRuns(ctx)
	out := &AWSRuns{StateMachine: s.smArn, Executions: []ExecutionRun{}, LineageErr: linErr}
	for _, e := range execs {
		name := aws.ToString(e.Name)
		x := ExecutionRun{Name: name, Status: string(e.Status), Month: executionMonth(name), Started: e.StartDate, Stopped: e.StopDate}
		if r, ok := runs[name]; ok {
			x.Run = &r
			if x.Month == "" {
				x.Month = r.Month
			}
		}
		out.Executions = append(out.Executions, x)
	}
	return out, nil
}
