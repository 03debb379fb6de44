package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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
	// Output is "text" (default) or "json" (local lakes' status).
	Output string
	// Name, Region, Account: as AWSRunOptions.
	Name, Region, Account string

	Log    zerolog.Logger
	Stdout io.Writer
	AWS    *aws.Config // tests
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

// StatusCommand shows one run. With an s3:// lake that is a Step Functions
// execution (status, stage, parts and tables done, error) and its lineage
// record; with a local lake, the lineage record alone.
func StatusCommand(ctx context.Context, o StatusOptions) error {
	if o.Run == "" {
		return errors.New("status: name the RUN (an execution name or ARN, or a run id)")
	}
	spec, err := jobs.Open(o.Job)
	if err != nil {
		return err
	}
	uri, err := LakeURI(spec, o.Lake)
	if err != nil {
		return err
	}
	if err := checkOutput("status", o.Output); err != nil {
		return err
	}
	if !strings.HasPrefix(uri, "s3://") {
		return localStatus(ctx, spec, uri, o)
	}
	if o.Output == "json" {
		return invalidInput{errors.New("status: --output json is for local lakes; on AWS read the execution with aws stepfunctions describe-execution")}
	}
	s, err := openAWSStatus(ctx, o)
	if err != nil {
		return err
	}
	defer s.close()
	arn := o.Run
	var run *lineage.Run
	if !strings.HasPrefix(arn, "arn:") {
		arn = strings.Replace(s.smArn, ":stateMachine:", ":execution:", 1) + ":" + o.Run
	}
	d, err := s.api.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	var missing *sfntypes.ExecutionDoesNotExist
	if errors.As(err, &missing) && s.lin != nil && !strings.HasPrefix(o.Run, "arn:") {
		// Not an execution: a lineage run id, whose parent is one.
		r, lerr := s.lin.GetRun(ctx, s.spec.Name, o.Run)
		if lerr != nil {
			return fmt.Errorf("status: %s is neither an execution of %s nor a run of job %s (%v)", o.Run, s.smArn, s.spec.Name, lerr)
		}
		run = &r
		if r.Parent == "" {
			printLineageRun(o.Stdout, r)
			fmt.Fprintln(o.Stdout, "(a local run: no Step Functions execution)")
			return nil
		}
		arn = r.Parent
		if !strings.HasPrefix(arn, "arn:") {
			arn = strings.Replace(s.smArn, ":stateMachine:", ":execution:", 1) + ":" + r.Parent
		}
		d, err = s.api.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	}
	if err != nil {
		return fmt.Errorf("status: execution %s: %w", arn, err)
	}
	p, err := progress(ctx, s.api.SFN, arn, d.Status)
	if err != nil {
		return err
	}
	w := o.Stdout
	fmt.Fprintf(w, "execution  %s\n", aws.ToString(d.Name))
	fmt.Fprintf(w, "arn        %s\n", arn)
	fmt.Fprintf(w, "status     %s\n", d.Status)
	if m := executionMonth(aws.ToString(d.Name)); m != "" {
		fmt.Fprintf(w, "month      %s\n", m)
	}
	fmt.Fprintf(w, "stage      %s (state %s)\n", p.Stage, p.State)
	if p.PartsTotal > 0 {
		fmt.Fprintf(w, "parts      %d/%d converted", p.PartsDone, p.PartsTotal)
		if p.PartsFailed > 0 {
			fmt.Fprintf(w, ", %d failed", p.PartsFailed)
		}
		fmt.Fprintln(w)
	}
	if p.TablesTotal > 0 {
		fmt.Fprintf(w, "tables     %d/%d derived\n", p.TablesDone, p.TablesTotal)
	}
	if d.StartDate != nil {
		end := time.Now()
		if d.StopDate != nil {
			end = *d.StopDate
		}
		fmt.Fprintf(w, "started    %s (%s)\n", d.StartDate.UTC().Format(time.RFC3339), end.Sub(*d.StartDate).Round(time.Second))
	}
	if d.RedriveCount != nil && *d.RedriveCount > 0 {
		fmt.Fprintf(w, "redriven   %d times\n", *d.RedriveCount)
	}
	if d.Error != nil {
		fmt.Fprintf(w, "error      %s: %s\n", aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	if run == nil {
		runs, err := s.lineageRuns(ctx)
		if err != nil {
			fmt.Fprintf(w, "lineage    unavailable: %v\n", err)
			return nil
		}
		if r, ok := runs[aws.ToString(d.Name)]; ok {
			run = &r
		}
	}
	if run == nil {
		fmt.Fprintln(w, "lineage    no run recorded for this execution (yet)")
		return nil
	}
	printLineageRun(w, *run)
	return nil
}

// localStatus shows a run of a local lake from its lineage record.
func localStatus(ctx context.Context, spec *jobs.Spec, uri string, o StatusOptions) error {
	lin := o.Lineage
	var env *Env
	if lin == nil {
		var err error
		if env, err = OpenExistingEnv(ctx, spec, uri, o.Log); err != nil {
			return err
		}
		defer env.Close()
		lin = env.Lineage
	}
	r, err := lin.GetRun(ctx, spec.Name, o.Run)
	if err != nil {
		return fmt.Errorf("status: run %s of job %s: %w", o.Run, spec.Name, err)
	}
	if env != nil {
		// A commit of this month that was not rolled forward is finished
		// first, so the status shown is the one readers get.
		if rep, err := Repair(ctx, env, spec, r.Month); err != nil {
			return err
		} else if rep.Finished && rep.Run == r.ID {
			if r, err = lin.GetRun(ctx, spec.Name, o.Run); err != nil {
				return fmt.Errorf("status: run %s of job %s: %w", o.Run, spec.Name, err)
			}
		}
	}
	if o.Output == "json" {
		pub, _ := lin.Published(ctx, spec.Name, r.Month)
		return writeJSON(o.Stdout, runView(r, pub == r.ID))
	}
	printLineageRun(o.Stdout, r)
	if !r.Ended.IsZero() {
		fmt.Fprintf(o.Stdout, "ran        %s, %s\n", r.Started.UTC().Format(time.RFC3339), r.Ended.Sub(r.Started).Round(time.Second))
	}
	return nil
}

func printLineageRun(w io.Writer, r lineage.Run) {
	fmt.Fprintf(w, "run        %s %s (month %s)\n", r.ID, r.Status, r.Month)
	fmt.Fprintf(w, "rows       in %d, out %d, rejected %d\n", r.RowsIn, r.RowsOut, r.RowsRejected)
	if r.Error != "" {
		fmt.Fprintf(w, "run error  %s\n", r.Error)
	}
}

// AWSRunsCommand lists the job's Step Functions executions, newest first,
// with the lineage run each started.
func AWSRunsCommand(ctx context.Context, o StatusOptions) error {
	s, err := openAWSStatus(ctx, o)
	if err != nil {
		return err
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
			return fmt.Errorf("runs: executions of %s: %w", s.smArn, err)
		}
		execs = append(execs, page.Executions...)
	}
	execs = execs[:min(len(execs), limit)]
	runs, linErr := s.lineageRuns(ctx)
	tw := tabwriter.NewWriter(o.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EXECUTION\tMONTH\tSTATUS\tSTARTED\tDURATION\tRUN\tRUN STATUS\tROWS OUT\tREJECTED")
	for _, e := range execs {
		name := aws.ToString(e.Name)
		month := executionMonth(name)
		started, dur := "-", "-"
		if e.StartDate != nil {
			started = e.StartDate.UTC().Format("2006-01-02 15:04")
			end := time.Now()
			if e.StopDate != nil {
				end = *e.StopDate
			}
			dur = end.Sub(*e.StartDate).Round(time.Second).String()
		}
		runID, runStatus, out, rej := "-", "-", "-", "-"
		if r, ok := runs[name]; ok {
			runID, runStatus, out, rej = r.ID, r.Status, fmt.Sprint(r.RowsOut), fmt.Sprint(r.RowsRejected)
			if month == "" {
				month = r.Month
			}
		}
		if month == "" {
			month = "-" // a scheduled start: plan chose the month
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, month, e.Status, started, dur, runID, runStatus, out, rej)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(execs) == 0 {
		fmt.Fprintf(o.Stdout, "no executions of %s yet\n", s.smArn)
	}
	if linErr != nil {
		fmt.Fprintf(o.Stdout, "(lineage unavailable: %v)\n", linErr)
	}
	return nil
}
