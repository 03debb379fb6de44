package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/rs/zerolog"

	"github.com/tierflow/tierflow/jobs"
	"github.com/tierflow/tierflow/runner/deploy"
	"github.com/tierflow/tierflow/statemachines"
)

// AWSRunOptions are run --on aws's.
type AWSRunOptions struct {
	Job string
	// Month, or From and To (inclusive) to backfill a range.
	Month, From, To string
	// Force reruns a month published from identical inputs.
	Force bool
	// Rerun starts a new attempt of a month whose last execution failed
	// (or succeeded, with Force).
	Rerun bool
	// Redrive restarts the month's last execution where it stopped, when
	// it was stopped or timed out before tierflow recorded the failure.
	Redrive bool
	// Concurrency bounds the months run at once in a backfill (default 2).
	Concurrency int
	// Poll is the interval between progress checks (default 15s).
	Poll time.Duration
	// Name is the deployment's base name (default "tierflow-<job>").
	Name string
	// Region and Account locate the state machine (defaults: the job's
	// region, the caller's account).
	Region, Account string
	// NoWait starts the executions and returns.
	NoWait bool

	Log    zerolog.Logger
	Stdout io.Writer
	AWS    *aws.Config // tests
}

// ExecutionName is the deterministic name of attempt n (1, 2, …) of a
// month: starting the same attempt twice is the same execution.
func ExecutionName(job, month string, attempt int) string {
	return fmt.Sprintf("%s-%s-r%d", job, month, attempt)
}

// executionMonth recovers the month from an ExecutionName, or from the
// name of an execution the intake state machine started, or "".
var executionNameRe = regexp.MustCompile(`-(\d{4}-\d{2})-r(\d+)$`)

func executionMonth(name string) string {
	if m := executionNameRe.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return statemachines.IntakeExecutionMonth(name)
}

// Months lists the months from..to inclusive.
func Months(from, to string) ([]string, error) {
	a, err := jobs.ParseMonth(from)
	if err != nil {
		return nil, fmt.Errorf("--from: %w", err)
	}
	b, err := jobs.ParseMonth(to)
	if err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}
	if b.Before(a) {
		return nil, fmt.Errorf("--from %s is after --to %s", from, to)
	}
	var out []string
	for m := a; !m.After(b); m = m.AddDate(0, 1, 0) {
		out = append(out, m.Format("2006-01"))
	}
	return out, nil
}

// executionInput is what run --on aws starts an execution with.
type executionInput struct {
	Month string `json:"month"`
	Force bool   `json:"force"`
}

// AWSRunCommand runs months as Step Functions executions of the deployed
// state machine, following each with progress, and fails unless every one
// succeeded.
func AWSRunCommand(ctx context.Context, o AWSRunOptions) error {
	spec, err := jobs.Open(o.Job)
	if err != nil {
		return err
	}
	var months []string
	switch {
	case o.Month != "" && (o.From != "" || o.To != ""):
		return errors.New("run: give --month, or --from and --to, not both")
	case o.Month != "":
		if _, err := jobs.ParseMonth(o.Month); err != nil {
			return err
		}
		months = []string{o.Month}
	case o.From != "" && o.To != "":
		if months, err = Months(o.From, o.To); err != nil {
			return err
		}
	default:
		return errors.New("run: give --month M, or --from M1 --to M2")
	}
	if o.Rerun && o.Redrive {
		return errors.New("run: --rerun starts a new execution, --redrive continues the last one: choose one")
	}
	api, err := deploy.NewClients(ctx, o.AWS, spec, o.Region, o.Log)
	if err != nil {
		return err
	}
	smArn, err := api.StateMachineARN(ctx, spec, o.Name, o.Account)
	if err != nil {
		return err
	}
	r := &awsRunner{api: api, spec: spec, o: o, smArn: smArn}
	if r.o.Poll <= 0 {
		r.o.Poll = 15 * time.Second
	}
	conc := o.Concurrency
	if conc <= 0 {
		conc = 2
	}
	results := make([]error, len(months))
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i, m := range months {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			results[i] = r.month(ctx, m)
		}()
	}
	wg.Wait()
	var failed []string
	for i, err := range results {
		if err != nil {
			failed = append(failed, months[i])
			if len(months) > 1 {
				r.printf("%s: %v\n", months[i], err)
			}
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(months) == 1:
		return results[0]
	}
	return fmt.Errorf("run: %d of %d months failed: %s", len(failed), len(months), strings.Join(failed, ", "))
}

type awsRunner struct {
	api   *deploy.Clients
	spec  *jobs.Spec
	o     AWSRunOptions
	smArn string
	mu    sync.Mutex // serialises output lines of concurrent months
}

func (r *awsRunner) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.o.Stdout, format, args...)
}

func (r *awsRunner) execArn(name string) string {
	return strings.Replace(r.smArn, ":stateMachine:", ":execution:", 1) + ":" + name
}

// latest finds a month's last attempt: its number (0 when there is none)
// and description.
func (r *awsRunner) latest(ctx context.Context, month string) (int, *sfn.DescribeExecutionOutput, error) {
	var last *sfn.DescribeExecutionOutput
	for n := 1; n <= 1000; n++ {
		out, err := r.api.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(r.execArn(ExecutionName(r.spec.Name, month, n)))})
		var missing *sfntypes.ExecutionDoesNotExist
		if errors.As(err, &missing) {
			return n - 1, last, nil
		}
		if err != nil {
			return 0, nil, fmt.Errorf("describe execution %s: %w", ExecutionName(r.spec.Name, month, n), err)
		}
		last = out
	}
	return 0, nil, fmt.Errorf("month %s has more than 1000 executions", month)
}

// month runs one month: start (or find, or redrive) its execution and
// follow it.
func (r *awsRunner) month(ctx context.Context, month string) error {
	n, last, err := r.latest(ctx, month)
	if err != nil {
		return err
	}
	status := sfntypes.ExecutionStatus("")
	if last != nil {
		status = last.Status
	}
	name := ExecutionName(r.spec.Name, month, max(n, 1))
	switch {
	case r.o.Redrive:
		if last == nil {
			return fmt.Errorf("month %s has no execution to redrive; run it first", month)
		}
		if err := r.redrive(ctx, last); err != nil {
			return err
		}
		r.printf("%s: redriving %s\n", month, name)
	case status == sfntypes.ExecutionStatusRunning || status == sfntypes.ExecutionStatusPendingRedrive:
		r.printf("%s: %s is already running; following it\n", month, name)
	case last == nil || r.o.Rerun || (r.o.Force && status == sfntypes.ExecutionStatusSucceeded):
		name = ExecutionName(r.spec.Name, month, n+1)
		if err := r.start(ctx, name, month); err != nil {
			return err
		}
		r.printf("%s: started %s\n", month, name)
	case status == sfntypes.ExecutionStatusSucceeded:
		r.printf("%s: %s already succeeded (--force --rerun runs it again)\n", month, name)
		return nil
	default:
		return fmt.Errorf("month %s: execution %s ended %s%s; --rerun starts a new one, --redrive continues it if it stopped before recording the failure",
			month, name, status, errorSuffix(last))
	}
	if r.o.NoWait {
		return nil
	}
	return r.follow(ctx, month, r.execArn(name))
}

func errorSuffix(d *sfn.DescribeExecutionOutput) string {
	if d == nil || d.Error == nil {
		return ""
	}
	return fmt.Sprintf(" (%s: %s)", aws.ToString(d.Error), aws.ToString(d.Cause))
}

// start starts an execution. Starting a running execution again with the
// same input is a no-op in Step Functions; a name that ended already is
// refused, and latest has seen to that.
func (r *awsRunner) start(ctx context.Context, name, month string) error {
	in, err := json.Marshal(executionInput{Month: month, Force: r.o.Force})
	if err != nil {
		return err
	}
	_, err = r.api.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(r.smArn), Name: aws.String(name), Input: aws.String(string(in)),
	})
	var missing *sfntypes.StateMachineDoesNotExist
	if errors.As(err, &missing) {
		return fmt.Errorf("no state machine %s: deploy the job first (tierflow deploy --job %s)", r.smArn, r.o.Job)
	}
	if err != nil {
		return fmt.Errorf("start execution %s: %w", name, err)
	}
	return nil
}

// redrive continues a stopped execution. One that reached Finish has
// recorded its run as failed and removed its output: continuing it would
// only fail again, so it must be rerun.
func (r *awsRunner) redrive(ctx context.Context, last *sfn.DescribeExecutionOutput) error {
	name := aws.ToString(last.Name)
	if last.Status == sfntypes.ExecutionStatusSucceeded || last.Status == sfntypes.ExecutionStatusRunning {
		return fmt.Errorf("execution %s is %s: nothing to redrive", name, last.Status)
	}
	entered, err := r.statesEntered(ctx, aws.ToString(last.ExecutionArn))
	if err != nil {
		return err
	}
	if entered["Finish"] {
		return fmt.Errorf("execution %s recorded its run as failed (finish ran)%s: start a new attempt with --rerun", name, errorSuffix(last))
	}
	if _, err := r.api.SFN.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: last.ExecutionArn}); err != nil {
		return fmt.Errorf("redrive execution %s: %w", name, err)
	}
	return nil
}

// statesEntered lists every state an execution entered.
func (r *awsRunner) statesEntered(ctx context.Context, arn string) (map[string]bool, error) {
	out := map[string]bool{}
	p := sfn.NewGetExecutionHistoryPaginator(r.api.SFN, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), IncludeExecutionData: aws.Bool(false), MaxResults: 1000})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("execution history %s: %w", arn, err)
		}
		for _, e := range page.Events {
			if e.StateEnteredEventDetails != nil {
				out[aws.ToString(e.StateEnteredEventDetails.Name)] = true
			}
		}
	}
	return out, nil
}

// Progress is where an execution is.
type Progress struct {
	Status                  string // RUNNING, SUCCEEDED, FAILED, …
	State                   string // the state last entered
	Stage                   string // its tierflow stage (statemachines.StageOf)
	PartsDone, PartsFailed  int
	PartsTotal              int
	TablesDone, TablesTotal int
}

func (p Progress) String() string {
	s := p.Stage
	if s == "" {
		s = "starting"
	}
	switch p.Stage {
	case "convert":
		s += fmt.Sprintf(" %d/%d parts", p.PartsDone, p.PartsTotal)
		if p.PartsFailed > 0 {
			s += fmt.Sprintf(" (%d failed)", p.PartsFailed)
		}
	case "derive":
		s += fmt.Sprintf(" %d/%d tables", p.TablesDone, p.TablesTotal)
	}
	return s
}

// progress reads an execution's stage from its latest history events and
// its Maps' item counts from their map runs.
func progress(ctx context.Context, states *sfn.Client, arn string, status sfntypes.ExecutionStatus) (Progress, error) {
	p := Progress{Status: string(status)}
	h, err := states.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), ReverseOrder: true, MaxResults: 50, IncludeExecutionData: aws.Bool(false)})
	if err != nil {
		return p, fmt.Errorf("execution history %s: %w", arn, err)
	}
	for _, e := range h.Events {
		if e.StateEnteredEventDetails != nil {
			p.State = aws.ToString(e.StateEnteredEventDetails.Name)
			p.Stage = statemachines.StageOf(p.State)
			break
		}
	}
	runs, err := states.ListMapRuns(ctx, &sfn.ListMapRunsInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return p, fmt.Errorf("map runs of %s: %w", arn, err)
	}
	for _, mr := range runs.MapRuns {
		d, err := states.DescribeMapRun(ctx, &sfn.DescribeMapRunInput{MapRunArn: mr.MapRunArn})
		if err != nil {
			return p, fmt.Errorf("map run %s: %w", aws.ToString(mr.MapRunArn), err)
		}
		c := d.ItemCounts
		switch mapRunLabel(aws.ToString(mr.MapRunArn)) {
		case statemachines.ConvertLabel:
			p.PartsDone, p.PartsFailed, p.PartsTotal = int(c.Succeeded), int(c.Failed+c.TimedOut+c.Aborted), int(c.Total)
		case statemachines.DeriveLabel:
			p.TablesDone, p.TablesTotal = int(c.Succeeded), int(c.Total)
		}
	}
	return p, nil
}

// mapRunLabel extracts the label from
// arn:aws:states:REGION:ACCOUNT:mapRun:STATEMACHINE/LABEL:ID.
func mapRunLabel(arn string) string {
	_, rest, ok := strings.Cut(arn, ":mapRun:")
	if !ok {
		return ""
	}
	_, rest, _ = strings.Cut(rest, "/")
	label, _, _ := strings.Cut(rest, ":")
	return label
}

// follow polls an execution until it ends, printing each change of
// progress, and returns an error unless it succeeded.
func (r *awsRunner) follow(ctx context.Context, month, arn string) error {
	name := arn[strings.LastIndex(arn, ":")+1:]
	started := time.Now()
	var last string
	for {
		d, err := r.api.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			return fmt.Errorf("describe execution %s: %w", name, err)
		}
		p, err := progress(ctx, r.api.SFN, arn, d.Status)
		if err != nil {
			return err
		}
		if line := p.String(); line != last {
			r.printf("%s: %s %s\n", month, name, line)
			last = line
		}
		switch d.Status {
		case sfntypes.ExecutionStatusRunning, sfntypes.ExecutionStatusPendingRedrive:
		case sfntypes.ExecutionStatusSucceeded:
			what := "published"
			if p.Stage == "skipped" {
				what = "nothing to do: already published from identical inputs"
			}
			r.printf("%s: %s SUCCEEDED (%s) after %s\n", month, name, what, time.Since(started).Round(time.Second))
			return nil
		default:
			return fmt.Errorf("execution %s %s%s", name, d.Status, errorSuffix(d))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped following %s (it keeps running on AWS): %w", name, ctx.Err())
		case <-time.After(r.o.Poll):
		}
	}
}
