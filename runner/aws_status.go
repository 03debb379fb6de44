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
	// Output is "text" (default) or "json" (a RunView locally, an
	// ExecutionView on AWS).
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
	api   *awsAPI
	spec  *jobs.Spec
	o     StatusOptions
	smArn string
	lin   lineage.Store
	// linErr says why there is no lineage store.
	linErr error
	close  func()
}

func openAWSStatus(ctx context.Context, o StatusOptions) (*awsStatus, error) {
	spec, err := LoadJob(o.Job)
	if err != nil {
		return nil, err
	}
	api, err := newAWSAPI(ctx, o.AWS, spec, o.Region, o.Log)
	if err != nil {
		return nil, err
	}
	acct, err := api.account(ctx, o.Account)
	if err != nil {
		return nil, err
	}
	base := o.Name
	if base == "" {
		base = "tierflow-" + spec.Name
	}
	s := &awsStatus{api: api, spec: spec, o: o, lin: o.Lineage, close: func() {},
		smArn: fmt.Sprintf("arn:%s:states:%s:%s:stateMachine:%s", partitionOf(api.cfg.Region), api.cfg.Region, acct, base)}
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
	spec, err := LoadJob(o.Job)
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
	s, err := openAWSStatus(ctx, o)
	if err != nil {
		return err
	}
	defer s.close()
	v, err := s.execution(ctx, o.Run)
	if err != nil {
		return err
	}
	if o.Output == "json" {
		return writeJSON(o.Stdout, v)
	}
	printExecution(o.Stdout, v)
	return nil
}

// execution reads what status shows of run: an execution name or ARN, or
// a lineage run id whose parent is an execution.
func (s *awsStatus) execution(ctx context.Context, runArg string) (ExecutionView, error) {
	arn := runArg
	var run *lineage.Run
	if !strings.HasPrefix(arn, "arn:") {
		arn = strings.Replace(s.smArn, ":stateMachine:", ":execution:", 1) + ":" + runArg
	}
	d, err := s.api.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	var missing *sfntypes.ExecutionDoesNotExist
	if errors.As(err, &missing) && s.lin != nil && !strings.HasPrefix(runArg, "arn:") {
		// Not an execution: a lineage run id, whose parent is one.
		r, lerr := s.lin.GetRun(ctx, s.spec.Name, runArg)
		if lerr != nil {
			return ExecutionView{}, fmt.Errorf("status: %s is neither an execution of %s nor a run of job %s (%v)", runArg, s.smArn, s.spec.Name, lerr)
		}
		run = &r
		if r.Parent == "" {
			rv := s.runView(ctx, r)
			return ExecutionView{Run: &rv, Lineage: "a local run: no Step Functions execution"}, nil
		}
		arn = r.Parent
		if !strings.HasPrefix(arn, "arn:") {
			arn = strings.Replace(s.smArn, ":stateMachine:", ":execution:", 1) + ":" + r.Parent
		}
		d, err = s.api.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	}
	if err != nil {
		return ExecutionView{}, fmt.Errorf("status: execution %s: %w", arn, err)
	}
	p, err := s.api.progress(ctx, arn, d.Status)
	if err != nil {
		return ExecutionView{}, err
	}
	v := ExecutionView{Execution: aws.ToString(d.Name), ARN: arn, Status: string(d.Status), Month: executionMonth(aws.ToString(d.Name)),
		Stage: p.Stage, State: p.State, Redriven: int(aws.ToInt32(d.RedriveCount))}
	if p.PartsTotal > 0 {
		v.Parts = &CountView{Done: p.PartsDone, Failed: p.PartsFailed, Total: p.PartsTotal}
	}
	if p.TablesTotal > 0 {
		v.Tables = &CountView{Done: p.TablesDone, Total: p.TablesTotal}
	}
	if d.StartDate != nil {
		end := time.Now()
		if d.StopDate != nil {
			end = *d.StopDate
			stopped := d.StopDate.UTC()
			v.Stopped = &stopped
		}
		started, secs := d.StartDate.UTC(), end.Sub(*d.StartDate).Seconds()
		v.Started, v.DurationSecs = &started, &secs
	}
	if d.Error != nil {
		v.Error, v.Cause = aws.ToString(d.Error), aws.ToString(d.Cause)
	}
	if run == nil {
		runs, err := s.lineageRuns(ctx)
		if err != nil {
			v.Lineage = fmt.Sprintf("unavailable: %v", err)
			return v, nil
		}
		if r, ok := runs[v.Execution]; ok {
			run = &r
		}
	}
	if run == nil {
		v.Lineage = "no run recorded for this execution (yet)"
		return v, nil
	}
	rv := s.runView(ctx, *run)
	v.Run = &rv
	if v.Month == "" {
		v.Month = run.Month
	}
	return v, nil
}

// runView is r as runs and status show it, published or not.
func (s *awsStatus) runView(ctx context.Context, r lineage.Run) RunView {
	pub, _ := s.lin.Published(ctx, s.spec.Name, r.Month)
	return runView(r, pub == r.ID)
}

// printExecution prints what status shows of an execution on AWS.
func printExecution(w io.Writer, v ExecutionView) {
	if v.Execution == "" { // a local run's record
		printRunView(w, *v.Run)
		fmt.Fprintf(w, "(%s)\n", v.Lineage)
		return
	}
	fmt.Fprintf(w, "execution  %s\n", v.Execution)
	fmt.Fprintf(w, "arn        %s\n", v.ARN)
	fmt.Fprintf(w, "status     %s\n", v.Status)
	if v.Month != "" {
		fmt.Fprintf(w, "month      %s\n", v.Month)
	}
	fmt.Fprintf(w, "stage      %s (state %s)\n", v.Stage, v.State)
	if v.Parts != nil {
		fmt.Fprintf(w, "parts      %d/%d converted", v.Parts.Done, v.Parts.Total)
		if v.Parts.Failed > 0 {
			fmt.Fprintf(w, ", %d failed", v.Parts.Failed)
		}
		fmt.Fprintln(w)
	}
	if v.Tables != nil {
		fmt.Fprintf(w, "tables     %d/%d derived\n", v.Tables.Done, v.Tables.Total)
	}
	if v.Started != nil {
		fmt.Fprintf(w, "started    %s (%s)\n", v.Started.Format(time.RFC3339), (time.Duration(*v.DurationSecs * float64(time.Second))).Round(time.Second))
	}
	if v.Redriven > 0 {
		fmt.Fprintf(w, "redriven   %d times\n", v.Redriven)
	}
	if v.Error != "" {
		fmt.Fprintf(w, "error      %s: %s\n", v.Error, v.Cause)
	}
	if v.Run == nil {
		fmt.Fprintf(w, "lineage    %s\n", v.Lineage)
		return
	}
	printRunView(w, *v.Run)
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

func printLineageRun(w io.Writer, r lineage.Run) { printRunView(w, runView(r, false)) }

func printRunView(w io.Writer, r RunView) {
	fmt.Fprintf(w, "run        %s %s (month %s)\n", r.RunID, r.Status, r.Month)
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
	p := sfn.NewListExecutionsPaginator(s.api.sfn, &sfn.ListExecutionsInput{StateMachineArn: aws.String(s.smArn), MaxResults: int32(min(limit, 1000))})
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
